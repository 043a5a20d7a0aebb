#!/bin/sh
# aiserver.gpu test bed (testbed/vm/build-image.sh): the first boot of a VM image, started
# with -kernel/-initrd. Installs GRUB on the disk for real, writes grub.cfg, powers off.
set -eu
kind=$(cat /etc/aiserver-firstboot)
echo "aiserver-firstboot: installing GRUB ($kind) on /dev/vda"
case "$kind" in
  bios)
    grub-install --target=i386-pc /dev/vda
    ;;
  uefi)
    mountpoint -q /boot/efi || mount /boot/efi
    # --removable: \EFI\BOOT\BOOTX64.EFI (shim, then Debian's signed GRUB), found by the
    # firmware without a boot entry in its variables; --uefi-secure-boot: the signed chain.
    grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --uefi-secure-boot --no-nvram
    ;;
esac
update-grub
rm -f /etc/aiserver-firstboot
sync
echo "aiserver-firstboot: done"
systemctl --no-block poweroff
