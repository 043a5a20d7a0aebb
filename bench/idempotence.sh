#!/usr/bin/env bash
# How much does an idempotent run of site.yml cost compared with a play that only
# gathers facts, on the lab container? Prints both times (median of RUNS), the ratio and
# the number of tasks the idempotent run reported as changed (must be 0).
#   bench/idempotence.sh            (make bench; RUNS=5 bench/idempotence.sh for more)
set -euo pipefail
. "$(dirname "$0")/../testbed/env.sh"
cd "$TESTBED_ROOT"
runs=${RUNS:-3}

echo "bench: converging the lab first (testbed/lab.sh)"
testbed/lab.sh >/dev/null

time_play() {  # prints "seconds changed"
  local start end out
  start=$(date +%s.%N)
  out=$(ansible-playbook -i inventory/lab.yml "$1" 2>&1) || { echo "$out" >&2; return 1; }
  end=$(date +%s.%N)
  changed=$(awk '/^aiserver-lab/ { for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { sub("changed=", "", $i); print $i } }' <<<"$out")
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') ${changed:-?}"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

site_times=(); facts_times=(); changed_max=0
for i in $(seq "$runs"); do
  read -r t c < <(time_play site.yml); site_times+=("$t")
  [ "$c" != 0 ] && changed_max=$c
  read -r t _ < <(time_play bench/facts-only.yml); facts_times+=("$t")
  echo "bench: run $i: site.yml ${site_times[-1]} s (changed=$c), facts only ${facts_times[-1]} s"
done
site=$(printf '%s\n' "${site_times[@]}" | median)
facts=$(printf '%s\n' "${facts_times[@]}" | median)
printf 'bench: idempotent site.yml %.2f s, facts-only play %.2f s, ratio %.2f, changed %s (median of %d)\n' \
  "$site" "$facts" "$(awk -v s="$site" -v f="$facts" 'BEGIN { print s / f }')" "$changed_max" "$runs"
