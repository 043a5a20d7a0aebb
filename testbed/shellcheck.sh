#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository and on the roles' shell-script
# templates rendered with their defaults (testbed/render-templates.yml). Warnings and
# errors fail; style notes are shown only with SHELLCHECK_SEVERITY=style.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TESTBED_ROOT"
scripts=()
while IFS= read -r -d '' f; do
  case "$f" in *.j2) continue ;; esac
  [ -f "$f" ] || continue
  if [[ "$f" == *.sh ]] || head -n1 "$f" | grep -qE '^#!.*(/|env )(ba|da)?sh\b'; then
    scripts+=("$f")
  fi
done < <(git ls-files -z --cached --others --exclude-standard)
rm -rf build/rendered
ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, testbed/render-templates.yml >build/render-templates.log 2>&1 \
  || { cat build/render-templates.log >&2; exit 1; }
rendered=(build/rendered/*.sh)
echo "shellcheck: ${#scripts[@]} scripts, ${#rendered[@]} rendered templates"
shellcheck -x --severity="${SHELLCHECK_SEVERITY:-warning}" "${scripts[@]}" "${rendered[@]}"
