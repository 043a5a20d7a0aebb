#!/bin/sh
# Build a real local apt repository whose 535 "driver" is a transitional package that moves
# the host to the 580 branch, as Ubuntu 24.04's archive did with its 535-server packages
# (libnvidia-extra-535-server 535.309.01-0ubuntu0.24.04.2 depends on
# libnvidia-extra-580-server). Debian names, so that the role's own package list
# (nvidia-driver nvidia-smi ...) walks into it:
#   nvidia-driver  535.999.01-1  transitional, Depends: libnvidia-ml1 (>= 580)
#   libnvidia-ml1  580.95.05-1   the 580 library it brings
#   nvidia-smi     535.999.01-1  transitional too (not with WITH_SMI=0), Depends: libnvidia-ml1 (>= 580)
# 535.999.01 is above every 535 in Debian's archive, so it is apt's candidate, for both
# nvidia-driver and nvidia-smi: the candidates agree and start with "535.", as the role's
# older checks wanted. Only the dependency brings 580, as on Ubuntu. The packages
# hold no files but their docs; they are never installed by the tests (the role must refuse
# them before any change).
# The index (Packages) is written here, as dpkg-scanpackages writes it: each package's
# control file, then Filename, Size, MD5sum and SHA256 (no apt-utils or dpkg-dev to install).
# Usage: branch-jump-repo.sh DIR   (needs dpkg-deb, md5sum, sha256sum)
set -eu
repo=$1
with_smi=${WITH_SMI:-1}
rm -rf "$repo"
mkdir -p "$repo/build"

deb() {  # name version depends description
    dir="$repo/build/$1"
    mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$1"
    printf 'Test package of aiserver.gpu molecule/nvidia_driver (branch jump).\n' > "$dir/usr/share/doc/$1/README"
    {
        printf 'Package: %s\nSource: nvidia-graphics-drivers\nVersion: %s\n' "$1" "$2"
        printf 'Architecture: amd64\nMaintainer: aiserver.gpu tests <tests@invalid>\n'
        printf 'Section: non-free/libs\nPriority: optional\n'
        [ -n "$3" ] && printf 'Depends: %s\n' "$3"
        printf 'Description: %s\n (aiserver.gpu test repository, not a real driver)\n' "$4"
    } > "$dir/DEBIAN/control"
    dpkg-deb --root-owner-group --build "$dir" "$repo/$1_$2_amd64.deb" >/dev/null
}

deb nvidia-driver 535.999.01-1 "libnvidia-ml1 (>= 580)" \
    "NVIDIA metapackage (transitional package to the 580 branch)"
deb libnvidia-ml1 580.95.05-1 "" "NVIDIA Management Library (NVML) runtime library, 580 branch"
if [ "$with_smi" = 1 ]; then
    deb nvidia-smi 535.999.01-1 "libnvidia-ml1 (>= 580)" \
        "NVIDIA System Management Interface (transitional package to the 580 branch)"
fi
rm -rf "$repo/build"
cd "$repo"
for f in ./*.deb; do
    dpkg-deb --field "$f"
    printf 'Filename: %s\nSize: %s\nMD5sum: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" \
        "$(md5sum < "$f" | cut -d' ' -f1)" "$(sha256sum < "$f" | cut -d' ' -f1)"
done > Packages
ls ./*.deb
