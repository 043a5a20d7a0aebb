#!/usr/bin/env bash
# Build the collection tarball, install it offline into a scratch path, and check that
# ansible-doc shows every plugin's documentation from the installed copy and that no
# test-bed file ships.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TESTBED_ROOT"
out=build/dist
inst=build/offline-install
rm -rf "$out" "$inst"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/aiserver-gpu-*.tar.gz)
echo "collection: built $tarball ($(du -k "$tarball" | cut -f1) KiB)"
if tar tzf "$tarball" | grep -E '(^|/)(molecule|testbed|bench|\.ci|\.venv|build)/|standin|\.pyc$'; then
  echo "collection: the files above must not ship (build_ignore in galaxy.yml)" >&2
  exit 1
fi
# (It warns that the scratch path is not a configured collections path: expected.)
ansible-galaxy collection install --offline --force -p "$inst" "$tarball" >build/offline-install.log 2>&1 \
  || { cat build/offline-install.log >&2; exit 1; }
export ANSIBLE_COLLECTIONS_PATH="$TESTBED_ROOT/$inst" ANSIBLE_NOCOLOR=1
for module_file in plugins/modules/*.py; do
  plugin=$(basename "$module_file" .py)
  doc=$(ansible-doc -t module "aiserver.gpu.$plugin")
  for section in OPTIONS ATTRIBUTES EXAMPLES "RETURN VALUES"; do
    grep -q "^$section" <<<"$doc" || { echo "collection: ansible-doc aiserver.gpu.$plugin lacks $section" >&2; exit 1; }
  done
  echo "collection: ansible-doc aiserver.gpu.$plugin: $(wc -l <<<"$doc") lines"
done
for filter in $(ansible-doc -t filter -l aiserver.gpu | awk '{ print $1 }'); do
  ansible-doc -t filter "$filter" | grep -q '^EXAMPLES' || { echo "collection: $filter lacks EXAMPLES" >&2; exit 1; }
done
ansible-doc -t callback aiserver.gpu.summary >/dev/null
for role_dir in roles/*/; do
  role=$(basename "$role_dir")
  ansible-doc -t role "aiserver.gpu.$role" >/dev/null || { echo "collection: ansible-doc -t role aiserver.gpu.$role fails" >&2; exit 1; }
done
echo "collection: offline install and docs OK"
