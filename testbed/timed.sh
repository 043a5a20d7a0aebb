#!/usr/bin/env bash
# Run a command and record how long it took: testbed/timed.sh LABEL CMD...
# testbed/timed.sh --report prints the table (build/timings.tsv) and clears it;
# testbed/timed.sh --reset clears it (make test starts with it: no rows of earlier runs).
# Commands may run side by side (testbed/molecule.sh): each row is one short append.
set -uo pipefail
log="$(cd "$(dirname "$0")/.." && pwd)/build/timings.tsv"
mkdir -p "$(dirname "$log")"
if [ "${1:-}" = "--reset" ]; then
  rm -f "$log"
  exit 0
fi
if [ "${1:-}" = "--report" ]; then
  echo "=== times per stage (s)"
  column -t -s $'\t' "$log" 2>/dev/null || cat "$log"
  if grep -q $'^molecule [^\t]*\t' "$log" 2>/dev/null; then
    echo "(the \"molecule <scenario>\" rows ran side by side, MOLECULE_JOBS at a time, within the molecule stage)"
  fi
  rm -f "$log"
  exit 0
fi
label=$1; shift
start=$(date +%s)
"$@"
rc=$?
printf '%s\t%s\t%s\n' "$label" "$(( $(date +%s) - start ))" "$([ $rc = 0 ] && echo ok || echo "FAILED rc=$rc")" >>"$log"
exit $rc
