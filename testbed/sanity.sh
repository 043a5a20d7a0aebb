#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as
# ansible_collections/aiserver/gpu (ansible-test needs that path), with the local Python
# (no containers: ansible-test's default test containers come from a registry this
# machine cannot reach).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TESTBED_ROOT"
# ansible-test bootstraps pip in its venvs with get-pip.py from a host this machine cannot
# reach, and says to save the script in its cache. Ours does the same job offline: pip
# from the Python's own ensurepip, then the pip version asked for from the package index.
getpip_dir="$HOME/.ansible/test/cache"
mkdir -p "$getpip_dir"
grep -o "pip='[0-9.]*'" "$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"/_internal/python_requirements.py \
  | grep -o "[0-9][0-9.]*" | while read -r v; do
  f="$getpip_dir/get_pip_${v//./_}.py"
  cat >"$f" <<'PY'
"""Offline stand-in for get-pip.py, written by aiserver.gpu testbed/sanity.sh."""
import subprocess
import sys

# In a child process: ensurepip sets PIP_CONFIG_FILE=/dev/null in its own environment.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PY
done

dest=build/sanity/ansible_collections/aiserver/gpu
rm -rf build/sanity
mkdir -p "$dest"
# The files git would commit (tracked, plus new files not ignored).
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$dest" -xf -
cd "$dest"
git init -q . && git add -A >/dev/null   # ansible-test lists files through git
py=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# SANITY_ARGS: more ansible-test options, split on blanks (e.g. "--test pep8").
read -r -a sanity_args <<<"${SANITY_ARGS:-}"
ansible-test sanity --python "$py" --color no --truncate 0 "${sanity_args[@]}"
