#!/usr/bin/env bash
# The suite on a busy machine: `npm test` while `stress --cpu N` keeps every core busy, RUNS
# times in a row (default 3); stops at the first red run. Prints each run's wall time.
#   npm run test:stress                 # 3 runs, stress on every core
#   RUNS=1 STRESS_CPUS=4 npm run test:stress
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-3}"
cpus="${STRESS_CPUS:-$(nproc)}"
if ! command -v stress >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's stress" >&2
    (apt-get install -y -qq stress >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq stress; }) >&2
  else
    echo "test:stress needs the 'stress' tool (Debian/Ubuntu: apt-get install stress)" >&2
    exit 2
  fi
fi

stress --cpu "$cpus" --quiet &
stress_pid=$!
trap 'kill "$stress_pid" 2>/dev/null || true; wait "$stress_pid" 2>/dev/null || true' EXIT
sleep 5

for i in $(seq 1 "$runs"); do
  echo "== busy run $i of $runs (stress --cpu $cpus; load $(cut -d' ' -f1-3 /proc/loadavg))"
  start=$(date +%s)
  if npm test; then status=green; else status=red; fi
  echo "== busy run $i: $status in $(($(date +%s) - start)) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  [ "$status" = green ] || exit 1
done
