#!/usr/bin/env bash
# Run Molecule scenarios, MOLECULE_JOBS (default 2) at a time, each one's full
# `molecule test` sequence, and fail when any fails.
#   testbed/molecule.sh                 every scenario (molecule/*/molecule.yml)
#   testbed/molecule.sh cuda power_limit
#   MOLECULE_JOBS=1 testbed/molecule.sh  one after another
# Each scenario writes build/molecule/<name>.log (a time on every line); the log is
# printed whole when its scenario ends (so lines of two scenarios never interleave), and its time goes to the
# stage table of testbed/timed.sh ("molecule <name>").
#
# Side by side is safe because scenarios share nothing: their containers, named
# volumes and apt cache folders (.cache/apt-archives/<container>) are named after their
# own instances, their loopback servers (conda's http.server, bios_ipmi's ipmi_sim)
# listen inside their own containers' network namespaces, Molecule's ephemeral folder
# is per scenario, and SSH's shared connections are per container address.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TESTBED_ROOT"

jobs="${MOLECULE_JOBS:-2}"
logdir=build/molecule
mkdir -p "$logdir"

# Longest first, so the last one to start is a short one (measured on a 2-core machine
# with an empty apt cache: the CUDA toolkit is ~2 GB of downloads and ~8 GB unpacked).
# Scenarios not named here follow in name order.
# nvidia_driver, the other big install, comes after two light ones, so that it unpacks
# its packages once CUDA's are in (two dpkg runs at once slow both down).
# nvidia_driver_kernel_vm: ~20 min under TCG (measured: headers, DKMS builds, a second
# kernel, two real reboots), after kernel_tuning_vm.
longest_first=(site_reboot_vm cuda kernel_tuning_vm nvidia_driver_kernel_vm rolling_reboot_vm conda_fastchan nvidia_driver_secure_boot bios_ipmi nvidia_driver docker_gpu gpu_validation kernel_tuning power_limit)

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  all=()
  for f in molecule/*/molecule.yml; do
    s=${f#molecule/}; s=${s%/molecule.yml}
    [ "$s" = _testbed ] || all+=("$s")
  done
  scenarios=()
  for s in "${longest_first[@]}"; do
    for a in "${all[@]}"; do [ "$a" = "$s" ] && scenarios+=("$s"); done
  done
  for a in "${all[@]}"; do
    case " ${longest_first[*]} " in *" $a "*) ;; *) scenarios+=("$a") ;; esac
  done
fi
for s in "${scenarios[@]}"; do
  [ -f "molecule/$s/molecule.yml" ] || { echo "molecule: no scenario molecule/$s" >&2; exit 2; }
done

# Each line of the log starts with the time it was written (where a scenario spends its
# time shows in the log itself).
stamp() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do printf '%(%H:%M:%S)T %s\n' -1 "$line"; done
}

run_one() {
  local s=$1
  # A hung scenario fails after MOLECULE_SCENARIO_TIMEOUT seconds (default 60 min: the
  # slowest, site_reboot_vm, takes 25-50 min under TCG) instead of holding CI to its limit.
  testbed/timed.sh "molecule $s" timeout --kill-after=60 "${MOLECULE_SCENARIO_TIMEOUT:-3600}" \
    molecule test -s "$s" 2>&1 | stamp >"$logdir/$s.log"
  return "${PIPESTATUS[0]}"
}

# The VMs (kind: vm) of a scenario's platforms.
vm_names() {
  python3 -c 'import sys, yaml; print(" ".join(p["name"] for p in yaml.safe_load(open(sys.argv[1]))["platforms"] if p.get("kind") == "vm"))' \
    "molecule/$1/molecule.yml"
}

# Tell what ended: its log whole, then one line with its result.
report() {
  local s=$1 rc=$2
  echo "=== molecule test -s $s"
  cat "$logdir/$s.log"
  if [ "$rc" = 0 ]; then
    echo "=== molecule test -s $s: passed ($(( $(date +%s) - ${started[$s]} )) s)"
  else
    # A VM's serial console is where a boot that went wrong shows (GRUB, the kernel, systemd).
    local vm
    for vm in $(vm_names "$s"); do
      if [ -f "build/vm/logs/$vm.console.log" ]; then
        echo "=== serial console of $vm (last 80 lines; whole: build/vm/logs/$vm.console.log)"
        tail -n 80 "build/vm/logs/$vm.console.log"
      fi
    done
    echo "=== molecule test -s $s: FAILED (rc $rc, $(( $(date +%s) - ${started[$s]} )) s; log: $logdir/$s.log)"
    failed+=("$s")
  fi
}

declare -A pid_of=() started=()
failed=()
running=0
next=0
echo "molecule: ${#scenarios[@]} scenarios, $jobs at a time: ${scenarios[*]}"
while [ "$next" -lt "${#scenarios[@]}" ] || [ "$running" -gt 0 ]; do
  if [ "$next" -lt "${#scenarios[@]}" ] && [ "$running" -lt "$jobs" ]; then
    s=${scenarios[$next]}
    next=$((next + 1))
    started[$s]=$(date +%s)
    run_one "$s" &
    pid_of[$!]=$s
    running=$((running + 1))
    echo "molecule: started $s (log: $logdir/$s.log)"
    continue
  fi
  rc=0
  wait -n -p done_pid "${!pid_of[@]}" || rc=$?
  s=${pid_of[$done_pid]}
  unset "pid_of[$done_pid]"
  running=$((running - 1))
  report "$s" "$rc"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule: FAILED: ${failed[*]} (logs above and in $logdir/)" >&2
  exit 1
fi
echo "molecule: all ${#scenarios[@]} scenarios passed"
