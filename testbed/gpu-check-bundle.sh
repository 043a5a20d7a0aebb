#!/usr/bin/env bash
# build/gpu-check/pylib: ansible-core's Python package (the version requirements-dev.txt
# pins), unpacked from its wheel, so that make gpu-check runs the modules on a GPU machine
# that has Python 3 but no ansible-core and no network. Carry build/gpu-check/pylib there.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TESTBED_ROOT"
version=$(sed -n 's/^ansible-core==//p' requirements-dev.txt)
dest=build/gpu-check
rm -rf "$dest/wheels" "$dest/pylib"
mkdir -p "$dest/wheels"
pip download -q --disable-pip-version-check --no-deps -d "$dest/wheels" "ansible-core==$version"
python - "$dest" <<'PY'
import glob, sys, zipfile
dest = sys.argv[1]
wheel = glob.glob(dest + "/wheels/ansible_core-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest + "/pylib", [n for n in z.namelist() if n.startswith("ansible/")])
PY
rm -rf "$dest/wheels"
echo "gpu-check: $(du -sh "$dest/pylib" | cut -f1) in $dest/pylib (ansible-core $version); carry it with the working tree"
