#!/usr/bin/env bash
# Build the Debian 12 disk image the test bed's virtual machines boot from, unless it
# exists (and was built from these same inputs).
#   testbed/vm/build-image.sh [bios|uefi] [--force]
#
#   bios  MBR disk, grub-pc: GRUB in the MBR and its gap, as on a server booting legacy BIOS.
#   uefi  GPT disk with an EFI system partition, grub-efi-amd64 + shim-signed +
#         grub-efi-amd64-signed (Debian's signed boot chain: it boots under Secure Boot with
#         OVMF's Microsoft keys), mokutil.
#
# How (no loop device, no nbd, no mount: none is needed):
#  1. debootstrap bookworm into a folder with the packages a freshly installed server has
#     (systemd, a real kernel: linux-image-cloud-amd64, GRUB, openssh-server, python3,
#     pciutils) and the test bed's SSH key for root;
#  2. a sparse raw disk with its partition table (sfdisk), the root file system written
#     into its partition straight from the folder (mke2fs -d, -E offset=), and for uefi an
#     EFI system partition (mkfs.vfat --offset);
#  3. a first boot of that disk with the folder's own kernel and initramfs (-kernel,
#     -initrd): a oneshot unit runs the real grub-install on /dev/vda and update-grub,
#     then powers off. From then on the disk boots through its own GRUB.
# The result: .cache/vm/debian12-<kind>.raw (about 1.2 GB used of 4 GB), the base of one
# copy-on-write overlay per instance (testbed/vm/vm.sh).
set -euo pipefail
# shellcheck source=testbed/env.sh
. "$(dirname "$0")/../env.sh"
here="$TESTBED_ROOT/testbed/vm"

kind=bios
force=false
for arg in "$@"; do
  case "$arg" in
    bios|uefi) kind=$arg ;;
    --force) force=true ;;
    *) echo "usage: $0 [bios|uefi] [--force]" >&2; exit 2 ;;
  esac
done

cache="$TESTBED_ROOT/.cache/vm"
image="$cache/debian12-$kind.raw"
key="$TESTBED_ROOT/build/testbed-ssh/key/authorized_keys"
mkdir -p "$cache"
"$TESTBED_ROOT/testbed/ssh-key.sh" >/dev/null
# Scenarios run side by side: one build of each kind at a time, the others wait and reuse it.
exec 9>"$cache/.lock-$kind"
flock 9
# The inputs: an image built from other ones is built again.
inputs_sum="$( (cat "$0" "$here/firstboot.sh" "$key"; echo "$kind") | sha256sum | cut -c1-16)"
if ! $force && [ -f "$image" ] && [ "$(cat "$image.inputs" 2>/dev/null)" = "$inputs_sum" ]; then
  echo "vm: image $image present, reused"
  exit 0
fi

# The host's Debian mirror (what this machine is allowed to reach), else the default.
mirror="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
mirror="${mirror:-http://deb.debian.org/debian}"

start=$(date +%s)
work="$(mktemp -d "$cache/.build-$kind.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"

packages=systemd-sysv,udev,dbus,kmod,linux-image-cloud-amd64,initramfs-tools,openssh-server,python3,python3-apt,sudo,pciutils,iproute2,procps,ca-certificates,e2fsprogs,less
case "$kind" in
  bios) packages="$packages,grub-pc" ;;
  uefi) packages="$packages,grub-efi-amd64,grub-efi-amd64-signed,shim-signed,mokutil,dosfstools" ;;
esac
echo "vm: debootstrap bookworm ($kind) from $mirror"
# --cache-dir keeps the .debs: a second build (the other kind) downloads only what differs.
mkdir -p "$cache/debs"
debootstrap --variant=minbase --components=main --cache-dir="$cache/debs" --include="$packages" \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -n 40 "$work/debootstrap.log"; exit 1; }

# --- what the first boot and every later boot need ------------------------------------
root_uuid=$(cat /proc/sys/kernel/random/uuid)
cat >"$root/etc/fstab" <<EOF
# Written by aiserver.gpu testbed/vm/build-image.sh
UUID=$root_uuid / ext4 errors=remount-ro 0 1
EOF
if [ "$kind" = uefi ]; then
  mkdir -p "$root/boot/efi"
  echo "LABEL=AISERVERESP /boot/efi vfat umask=0077 0 1" >>"$root/etc/fstab"
fi
echo aiserver-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 aiserver-vm\n' >"$root/etc/hosts"
# QEMU's user-mode network: DHCP from 10.0.2.2, DNS at 10.0.2.3.
cat >"$root/etc/systemd/network/80-aiserver-dhcp.network" <<'EOF'
[Match]
Name=en* eth*
[Network]
DHCP=yes
EOF
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
echo "nameserver 10.0.2.3" >"$root/etc/resolv.conf"
# The same Debian sources as the container image: contrib, non-free, non-free-firmware.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$key" "$root/root/.ssh/authorized_keys"
# GRUB as Debian's installer leaves it, plus a serial console (the VM's only screen) and
# intel_iommu=on, as on a server that had its IOMMU turned on: kernel_tuning must turn
# it off where it is asked to, and keep it where it is not.
cat >"$root/etc/default/grub" <<'EOF'
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on"
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF
install -m 0755 "$here/firstboot.sh" "$root/usr/local/sbin/aiserver-firstboot"
cat >"$root/etc/systemd/system/aiserver-firstboot.service" <<'EOF'
[Unit]
Description=aiserver.gpu test bed: install GRUB on the disk at the first boot, then power off
ConditionPathExists=/etc/aiserver-firstboot
After=local-fs.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/aiserver-firstboot
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/aiserver-firstboot.service "$root/etc/systemd/system/multi-user.target.wants/aiserver-firstboot.service"
echo "$kind" >"$root/etc/aiserver-firstboot"
# The serial console of a guest with no screen: no getty needed on tty1.
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
printf 'aiserver-gpu-testbed-vm\n' >"$root/etc/aiserver-testbed"
# One kernel is installed (linux-image-cloud-amd64's).
kernels=("$root"/boot/vmlinuz-*)
initrds=("$root"/boot/initrd.img-*)
kernel=${kernels[-1]}
initrd=${initrds[-1]}
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
# The initramfs with the modules this machine needs (MODULES=dep, as initramfs-tools
# offers) instead of Debian's "most": under TCG each update-initramfs takes about 1.5 min
# instead of 4.5 (measured), and a driver install triggers three or four of them.
mkdir -p "$root/etc/initramfs-tools/conf.d"
echo "MODULES=dep" >"$root/etc/initramfs-tools/conf.d/aiserver-testbed.conf"
# A persistent journal, as on an installed server: `journalctl --list-boots` counts the
# boots a scenario caused.
install -d -m 2755 "$root/var/log/journal"
rm -f "$root/var/cache/apt/archives"/*.deb

# --- the disk --------------------------------------------------------------------------
disk="$work/disk.raw"
truncate -s 4G "$disk"
mib=$((1024 * 1024))
if [ "$kind" = bios ]; then
  # MBR, one bootable Linux partition from 1 MiB (GRUB's core image goes in the gap before it).
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$disk"
  root_start=1
else
  # GPT: the EFI system partition (256 MiB), then the root file system.
  printf 'label: gpt\nstart=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"\nstart=526336, type=0FC63DAF-8483-4742-8E79-3D69D8477DE4, name=root\n' \
    | sfdisk -q "$disk"
  # -s 1 (512-byte clusters): with mkfs.vfat's 4 KiB ones a 256 MiB FAT32 has fewer than
  # 65525 clusters, which the UEFI FAT driver (counting clusters, as the FAT spec says)
  # reads as FAT16: OVMF then finds no \EFI\BOOT\BOOTX64.EFI on the disk.
  mkfs.vfat -F 32 -s 1 -n AISERVERESP --offset 2048 "$disk" $((256 * 1024)) >/dev/null
  root_start=257
fi
root_size=$(( 4096 - root_start - 1 ))
mkfs.ext4 -q -F -L aiserver-root -U "$root_uuid" -E offset=$((root_start * mib)) -d "$root" "$disk" "${root_size}M"
rm -rf "$root"

# --- first boot: the real grub-install on the real disk ----------------------------------
echo "vm: first boot ($kind): installing GRUB on the disk"
firmware=()
if [ "$kind" = uefi ]; then
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
  firmware=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
            -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
fi
timeout 900 qemu-system-x86_64 -name "aiserver-build-$kind" -machine q35 -accel tcg -cpu max -smp 2 -m 1024 \
  "${firmware[@]}" \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "root=UUID=$root_uuid ro console=ttyS0,115200n8 panic=-1" \
  -drive "file=$disk,if=none,id=disk0,format=raw,cache=unsafe" -device "virtio-blk-pci,drive=disk0" \
  -nic none -serial "file:$work/firstboot.log" -display none -monitor none -no-reboot \
  || { echo "vm: the first boot failed or timed out; its console:" >&2; tail -n 60 "$work/firstboot.log" >&2; exit 1; }
if ! grep -q "aiserver-firstboot: done" "$work/firstboot.log"; then
  echo "vm: the first boot did not install GRUB; its console:" >&2
  tail -n 60 "$work/firstboot.log" >&2
  exit 1
fi
cp "$work/firstboot.log" "$image.firstboot.log"
if [ "$kind" = uefi ]; then cp "$work/vars.fd" "$image.vars.fd"; fi
cp "$work/vmlinuz" "$image.vmlinuz"
mv -f "$disk" "$image"
echo "$inputs_sum" >"$image.inputs"
echo "vm: image $image built in $(( $(date +%s) - start )) s ($(du -h "$image" | cut -f1) used)"
