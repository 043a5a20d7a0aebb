#!/usr/bin/env bash
# Start, stop and reach the test bed's virtual machines (QEMU), for what a container cannot
# show: a real boot (GRUB, /proc/cmdline, reboots), real PCIe configuration space (ACS on
# root ports behind an IOMMU), UEFI and Secure Boot, SSH.
#
#   testbed/vm/vm.sh start NAME [--image bios|uefi] [--secure-boot] [--iommu] [--root-ports N]
#                               [--memory MiB] [--cpus N] [--port PORT]
#   testbed/vm/vm.sh stop NAME          power off (ACPI, then kill), remove its overlay
#   testbed/vm/vm.sh wait NAME [SECONDS] until SSH answers (prints the console on failure)
#   testbed/vm/vm.sh port NAME          the 127.0.0.1 port its SSH is forwarded to
#   testbed/vm/vm.sh console NAME       its serial console so far
#   testbed/vm/vm.sh accel              kvm or tcg: what this machine can run (probed once)
#
# Each VM: build/vm/NAME/ holds its copy-on-write overlay of .cache/vm/debian12-KIND.raw
# (testbed/vm/build-image.sh), its UEFI variables, its serial console (console.log), the
# QEMU pid and the forwarded port. SSH is forwarded on 127.0.0.1 only.
set -euo pipefail
# shellcheck source=testbed/env.sh
. "$(dirname "$0")/../env.sh"
cache="$TESTBED_ROOT/.cache/vm"
state="$TESTBED_ROOT/build/vm"
key="$TESTBED_ROOT/build/testbed-ssh/key/id_ed25519"
SSH_OPTS=(-F /dev/null -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o IdentitiesOnly=yes
          -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR -i "$key")

die() { echo "vm: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# KVM when a real boot works with it, else TCG. Nested KVM is advertised on some machines
# and does not run a guest (on this kind: "failed to set MSR 0x10a", or a guest that prints
# nothing): a kernel must print its banner within 20 s. Probed once per checkout.
accel() {
  mkdir -p "$state"
  exec 8>"$state/.accel.lock"
  flock 8
  if [ -s "$state/accel" ]; then cat "$state/accel"; return; fi
  local result=tcg kernels kernel
  kernels=("$cache"/debian12-*.raw.vmlinuz)
  kernel=${kernels[0]}
  if [ -f "$kernel" ] && [ -w /dev/kvm ]; then
    timeout 20 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -m 256 -display none -monitor none \
      -kernel "$kernel" -append "console=ttyS0 panic=-1" -no-reboot -serial "file:$state/accel-probe.log" \
      >/dev/null 2>&1 || true
    grep -q "Linux version" "$state/accel-probe.log" 2>/dev/null && result=kvm
  fi
  echo "$result" >"$state/accel"
  echo "$result"
}

start() {
  local name=$1; shift
  local image=bios secure=false iommu=false root_ports=2 memory=1024 cpus=2 port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --image) image=$2; shift 2 ;;
      --secure-boot) secure=true; image=uefi; shift ;;
      --iommu) iommu=true; shift ;;
      --root-ports) root_ports=$2; shift 2 ;;
      --memory) memory=$2; shift 2 ;;
      --cpus) cpus=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [ "$root_ports" -ge 2 ] || die "start: --root-ports must be 2 or more (the disk and the NIC sit behind two of them)"
  local base="$cache/debian12-$image.raw" dir="$state/$name"
  [ -f "$base" ] || die "no image $base: run testbed/vm/build-image.sh $image"
  if [ -f "$dir/qemu.pid" ] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null; then
    die "$name runs already (pid $(cat "$dir/qemu.pid")); testbed/vm/vm.sh stop $name first"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  port=${port:-$(free_port)}
  echo "$port" >"$dir/port"
  qemu-img create -q -f qcow2 -b "$base" -F raw "$dir/overlay.qcow2"
  local mode
  mode=$(accel)
  local args=(-name "$name")
  # q35: a PCI Express machine (root ports, extended configuration space, where ACS lives).
  # kernel-irqchip=split: the interrupt remapping intel-iommu needs.
  if $iommu; then
    args+=(-machine "q35,kernel-irqchip=split")
  else
    args+=(-machine q35)
  fi
  # TCG's CPU models say AuthenticAMD; an Intel IOMMU (VT-d) sits beside an Intel CPU, and
  # kernel_tuning picks intel_iommu= or amd_iommu= from the CPU's vendor.
  if [ "$mode" = kvm ]; then args+=(-accel kvm -cpu host); else args+=(-accel tcg -cpu "max,vendor=GenuineIntel"); fi
  args+=(-smp "$cpus" -m "$memory")
  # The IOMMU of a server (Intel VT-d); with intel_iommu=on the guest kernel turns ACS on
  # in every root port, as on real hardware. intremap: interrupt remapping, as VT-d has.
  if $iommu; then args+=(-device "intel-iommu,intremap=on"); fi
  # PCIe root ports: each has a real ACS extended capability (ACSCap 0x005f). The disk and
  # the NIC sit behind the first two, so the ports are bridges with devices, like a GPU's.
  local i
  for i in $(seq 1 "$root_ports"); do
    args+=(-device "pcie-root-port,id=rp$i,chassis=$i,slot=$i")
  done
  # Firmware: SeaBIOS (QEMU's default) for bios; OVMF for uefi, with Microsoft's keys
  # enrolled and Secure Boot on for --secure-boot (Debian's ms.fd files).
  if [ "$image" = uefi ]; then
    local code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=$base.vars.fd
    if $secure; then code=/usr/share/OVMF/OVMF_CODE_4M.ms.fd vars=/usr/share/OVMF/OVMF_VARS_4M.ms.fd; fi
    cp "$vars" "$dir/vars.fd"
    args+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd")
  fi
  # The disk (virtio-blk, /dev/vda) and the NIC (virtio-net, user-mode network: the guest
  # reaches what this machine reaches; SSH is forwarded on 127.0.0.1 only).
  args+=(-drive "file=$dir/overlay.qcow2,if=none,id=disk0,format=qcow2,cache=unsafe"
         -device "virtio-blk-pci,drive=disk0,bus=rp1"
         -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22"
         -device "virtio-net-pci,netdev=net0,bus=rp2")
  # The serial console (the guest's only screen) into a file; no display, no monitor.
  args+=(-serial "file:$dir/console.log" -display none -monitor none -pidfile "$dir/qemu.pid" -daemonize)
  printf '%q ' qemu-system-x86_64 "${args[@]}" >"$dir/command"
  qemu-system-x86_64 "${args[@]}" || die "QEMU did not start $name: $(cat "$dir/command")"
  echo "vm: $name started ($mode, $image$($secure && echo ', Secure Boot'), $($iommu && echo 'IOMMU, ')$root_ports root ports), SSH on 127.0.0.1:$port"
}

ssh_vm() {
  local name=$1; shift
  ssh "${SSH_OPTS[@]}" -p "$(cat "$state/$name/port")" root@127.0.0.1 "$@"
}

wait_ssh() {
  local name=$1 limit=${2:-600} started
  started=$(date +%s)
  while [ $(( $(date +%s) - started )) -lt "$limit" ]; do
    if [ -f "$state/$name/qemu.pid" ] && ! kill -0 "$(cat "$state/$name/qemu.pid")" 2>/dev/null; then
      echo "vm: $name stopped while booting; its console:" >&2
      tail -n 60 "$state/$name/console.log" >&2
      return 1
    fi
    if ssh_vm "$name" true 2>/dev/null; then
      echo "vm: $name answers on SSH after $(( $(date +%s) - started )) s"
      return 0
    fi
    sleep 2
  done
  echo "vm: $name gave no SSH within $limit s; its console:" >&2
  tail -n 60 "$state/$name/console.log" >&2
  return 1
}

stop() {
  local name=$1 dir="$state/$1" pid
  if [ -f "$dir/qemu.pid" ]; then
    pid=$(cat "$dir/qemu.pid")
    if kill -0 "$pid" 2>/dev/null; then
      ssh_vm "$name" systemctl poweroff >/dev/null 2>&1 || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 10); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  mkdir -p "$state/logs"
  if [ -f "$dir/console.log" ]; then cp "$dir/console.log" "$state/logs/$name.console.log"; fi
  rm -rf "$dir"
  echo "vm: $name stopped and removed (console: build/vm/logs/$name.console.log)"
}

cmd=${1:-}
shift || true
case "$cmd" in
  start) [ $# -ge 1 ] || die "usage: vm.sh start NAME [options]"; start "$@" ;;
  stop) [ $# -eq 1 ] || die "usage: vm.sh stop NAME"; stop "$1" ;;
  wait) [ $# -ge 1 ] || die "usage: vm.sh wait NAME [SECONDS]"; wait_ssh "$@" ;;
  port) cat "$state/$1/port" ;;
  console) cat "$state/$1/console.log" ;;
  ssh) [ $# -ge 1 ] || die "usage: vm.sh ssh NAME [COMMAND]"; ssh_vm "$@" ;;
  accel) accel ;;
  *) die "usage: vm.sh start|stop|wait|port|console|ssh|accel ..." ;;
esac
