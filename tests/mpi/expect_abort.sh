#!/usr/bin/env bash
# Runs a job that must fail fast instead of hanging, and checks how it failed:
#   expect_abort.sh RANKS DEADLINE_S MAX_WALL_S PATTERN -- COMMAND...
# Passes when the job exits non-zero within MAX_WALL_S seconds and its output matches PATTERN (grep -E).
set -u
ranks=$1 deadline=$2 max_wall=$3 pattern=$4
shift 4
[ "$1" = "--" ] && shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
TESSERA_COMM_TIMEOUT_S=$deadline timeout --kill-after=5 $((max_wall * 3)) \
  mpirun --oversubscribe --bind-to none -np "$ranks" "$@" >"$log" 2>&1
status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
cat "$log"
echo "--- exit status $status after ${elapsed}s (deadline ${deadline}s, limit ${max_wall}s)"
if [ "$status" -eq 0 ]; then echo "FAIL: the job succeeded but should have aborted"; exit 1; fi
if [ "$status" -eq 124 ]; then echo "FAIL: the job hung and was stopped by the test's own timeout"; exit 1; fi
if (( $(echo "$elapsed > $max_wall" | bc) )); then echo "FAIL: took ${elapsed}s, more than ${max_wall}s"; exit 1; fi
if ! grep -Eq "$pattern" "$log"; then echo "FAIL: output does not match: $pattern"; exit 1; fi
echo "PASS: aborted in ${elapsed}s with the expected message"
