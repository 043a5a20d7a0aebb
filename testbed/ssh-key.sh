#!/usr/bin/env bash
# The test bed's SSH key pair, made once per checkout: build/testbed-ssh/key/id_ed25519
# (Ansible's identity) and authorized_keys (what every test host accepts: containers
# bind-mount it, VM images carry it for root). Prints its folder. Safe to run side by
# side: each run makes its own in a scratch folder and the first rename wins.
set -eu
dir="$(cd "$(dirname "$0")/.." && pwd)/build/testbed-ssh/key"
if [ ! -d "$dir" ]; then
  parent=$(dirname "$dir")
  mkdir -p "$parent"
  tmp=$(mktemp -d "$parent/.key.XXXXXX")
  ssh-keygen -q -t ed25519 -N '' -C aiserver-testbed -f "$tmp/id_ed25519"
  cp "$tmp/id_ed25519.pub" "$tmp/authorized_keys"
  chmod 0755 "$tmp"
  chmod 0644 "$tmp/authorized_keys"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
echo "$dir"
