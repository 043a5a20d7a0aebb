#!/usr/bin/env bash
# TEST-BED STAND-IN for a Miniforge installer (aiserver.gpu molecule/conda_fastchan).
# NOT Miniforge and not conda: the real installer cannot be downloaded in the test bed
# (GitHub is unreachable). It follows Miniforge's command line (bash installer.sh -b [-u]
# -p PREFIX), refuses an existing prefix without -u as Miniforge's installer does, and
# leaves the files the role looks at: bin/conda (a stub that only says it is a stand-in),
# etc/profile.d/conda.sh and a .condarc with conda-forge. It records each run, so the
# scenario can count installs. It exists only to exercise the role's download, sha256
# check and "same version present: no reinstall" logic.
set -eu
update=0
prefix=""
while getopts "bfup:" opt; do
    case "$opt" in
        b|f) ;;
        u) update=1 ;;
        p) prefix="$OPTARG" ;;
        *) echo "usage: $0 -b [-u] -p PREFIX" >&2; exit 2 ;;
    esac
done
if [ -z "$prefix" ]; then
    echo "stand-in installer: -p PREFIX is required" >&2
    exit 2
fi
if [ -e "$prefix" ] && [ "$update" = 0 ]; then
    echo "ERROR: File or directory already exists: '$prefix'" >&2
    echo "If you want to update an existing installation, use the -u option." >&2
    exit 1
fi
mkdir -p "$prefix/bin" "$prefix/condabin" "$prefix/etc/profile.d" "$prefix/conda-meta"
printf 'channels:\n  - conda-forge\n' >"$prefix/.condarc"
printf '#!/bin/sh\necho "aiserver.gpu test-bed stand-in installer: this is not conda" >&2\nexit 1\n' >"$prefix/bin/conda"
chmod 0755 "$prefix/bin/conda"
printf '# stand-in for conda.sh\nexport AISERVER_CONDA_STANDIN_SOURCED=1\n' >"$prefix/etc/profile.d/conda.sh"
mkdir -p /var/lib/aiserver-testbed
echo "$*" >>/var/lib/aiserver-testbed/conda-installer-runs.log
echo "PREFIX=$prefix"
echo "installation finished."
