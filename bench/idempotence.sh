#!/usr/bin/env bash
# How much does an idempotent run of site.yml cost compared with a play that only
# gathers facts, on the lab container? Measured over two connections to the same host:
# podman (inventory/lab.yml: `podman exec`, four per task) and SSH, as a user reaches a
# server (the container's sshd, the test bed's key, pipelining and ControlPersist, as
# .config/molecule/config.yml sets them). Prints both times per connection (median of
# RUNS), each ratio, the SSH/podman ratio of the idempotent runs, and the number of tasks
# the idempotent runs reported as changed (must be 0).
#   bench/idempotence.sh            (make bench; RUNS=5 bench/idempotence.sh for more)
set -euo pipefail
. "$(dirname "$0")/../testbed/env.sh"
cd "$TESTBED_ROOT"
runs=${RUNS:-3}

echo "bench: converging the lab first (testbed/lab.sh)"
testbed/lab.sh >/dev/null

# The same host over SSH: its address on podman's network and the test bed's key.
address=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' aiserver-lab)
mkdir -p build
cat >build/bench-lab-ssh.yml <<INVENTORY
---
# Written by bench/idempotence.sh: the lab container (inventory/lab.yml) over SSH.
gpu_servers:
  hosts:
    aiserver-lab:
      ansible_host: $address
      ansible_user: root
      ansible_connection: ssh
      ansible_ssh_private_key_file: $TESTBED_ROOT/build/testbed-ssh/key/id_ed25519
      ansible_python_interpreter: /usr/bin/python3
      conda_fastchan_install: false
bmc:
  hosts: {}
INVENTORY

time_play() {  # INVENTORY PLAYBOOK: prints "seconds changed"
  local start end out
  start=$(date +%s.%N)
  out=$(ansible-playbook -i "$1" "$2" 2>&1) || { echo "$out" >&2; return 1; }
  end=$(date +%s.%N)
  changed=$(awk '/^aiserver-lab/ { for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { sub("changed=", "", $i); print $i } }' <<<"$out")
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') ${changed:-?}"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# SSH as Ansible users run it: one exec per module (pipelining), the connection kept open.
export ANSIBLE_PIPELINING=True
export ANSIBLE_SSH_ARGS="-F /dev/null -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o ControlMaster=auto -o ControlPersist=60s -o LogLevel=ERROR"

declare -A site facts
changed_max=0
for connection in podman ssh; do
  inventory=inventory/lab.yml
  [ "$connection" = ssh ] && inventory=build/bench-lab-ssh.yml
  site_times=(); facts_times=()
  for i in $(seq "$runs"); do
    read -r t c < <(time_play "$inventory" site.yml); site_times+=("$t")
    [ "$c" != 0 ] && changed_max=$c
    read -r t _ < <(time_play "$inventory" bench/facts-only.yml); facts_times+=("$t")
    echo "bench: $connection run $i: site.yml ${site_times[-1]} s (changed=$c), facts only ${facts_times[-1]} s"
  done
  site[$connection]=$(printf '%s\n' "${site_times[@]}" | median)
  facts[$connection]=$(printf '%s\n' "${facts_times[@]}" | median)
done
for connection in podman ssh; do
  printf 'bench: %-6s idempotent site.yml %.2f s, facts-only play %.2f s, ratio %.2f (median of %d)\n' \
    "$connection" "${site[$connection]}" "${facts[$connection]}" \
    "$(awk -v s="${site[$connection]}" -v f="${facts[$connection]}" 'BEGIN { print s / f }')" "$runs"
done
printf 'bench: idempotent site.yml over SSH / over podman: %.2f; changed %s\n' \
  "$(awk -v s="${site[ssh]}" -v p="${site[podman]}" 'BEGIN { print s / p }')" "$changed_max"
