#!/usr/bin/env bash
# Run a command and record how long it took: testbed/timed.sh LABEL CMD...
# testbed/timed.sh --report prints the table (build/timings.tsv) and clears it.
set -uo pipefail
log="$(cd "$(dirname "$0")/.." && pwd)/build/timings.tsv"
mkdir -p "$(dirname "$log")"
if [ "${1:-}" = "--report" ]; then
  echo "=== times per stage (s)"
  column -t -s $'\t' "$log" 2>/dev/null || cat "$log"
  rm -f "$log"
  exit 0
fi
label=$1; shift
start=$(date +%s)
"$@"
rc=$?
printf '%s\t%s\t%s\n' "$label" "$(( $(date +%s) - start ))" "$([ $rc = 0 ] && echo ok || echo "FAILED rc=$rc")" >>"$log"
exit $rc
