#!/usr/bin/env bash
# Build the Debian 12 systemd image the test hosts run from, unless it exists.
#   debootstrap (minbase + python3, systemd, sudo) -> podman import -> Containerfile layer
# Usage: testbed/build-image.sh [--force]
set -euo pipefail
. "$(dirname "$0")/env.sh"

force=false
[ "${1:-}" = "--force" ] && force=true

# The layer's inputs: an image built from other ones (an older checkout) is built again.
layer_sum="$(cat "$TESTBED_ROOT/testbed/Containerfile" "$TESTBED_ROOT/testbed/sshd-testbed.conf" | sha256sum | cut -c1-16)"
if ! $force && podman image exists "$AISERVER_IMAGE"; then
  built_sum="$(podman image inspect --format '{{ index .Labels "aiserver.testbed.layer" }}' "$AISERVER_IMAGE" 2>/dev/null || true)"
  if [ "$built_sum" = "$layer_sum" ]; then
    echo "testbed: image $AISERVER_IMAGE present, reused"
    exit 0
  fi
  echo "testbed: image $AISERVER_IMAGE was built from another testbed/Containerfile, building it again"
fi

# The host's Debian mirror (what this machine is allowed to reach), else the default.
mirror="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
security="$(awk '/^URIs:/ && $2 ~ /debian-security\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${security:-http://deb.debian.org/debian-security}"

start=$(date +%s)
if $force || ! podman image exists "$AISERVER_ROOTFS_IMAGE"; then
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/aiserver-rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "testbed: debootstrap bookworm from $mirror"
  debootstrap --variant=minbase --include=python3,systemd,systemd-sysv,sudo,dbus \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/lib/systemd/systemd"]' - "$AISERVER_ROOTFS_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "testbed: rootfs imported as $AISERVER_ROOTFS_IMAGE ($(( $(date +%s) - start )) s)"
fi

podman build --quiet --pull=never --label "aiserver.testbed.layer=$layer_sum" \
  --build-arg "BASE=$AISERVER_ROOTFS_IMAGE" \
  --build-arg "MIRROR=$mirror" --build-arg "SECURITY_MIRROR=$security" \
  -t "$AISERVER_IMAGE" -f "$TESTBED_ROOT/testbed/Containerfile" "$TESTBED_ROOT/testbed" >/dev/null
echo "testbed: image $AISERVER_IMAGE built in $(( $(date +%s) - start )) s"
