#!/usr/bin/env bash
# A command that must fail cleanly: expect_failure.sh STATUS PATTERN OUTPUT -- COMMAND...
# Passes when COMMAND exits with STATUS ("nonzero": any failure), its output matches PATTERN (grep -E), and
# OUTPUT, removed beforehand, was not written (a failed job leaves no partial file).
set -u
status=$1 pattern=$2 output=$3
shift 3
[ "$1" = "--" ] && shift
rm -f "$output"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" >"$log" 2>&1
actual=$?
cat "$log"
echo "--- exit status $actual"
if [ "$status" = nonzero ]; then
  [ "$actual" -ne 0 ] || { echo "FAIL: the command succeeded"; exit 1; }
elif [ "$actual" -ne "$status" ]; then
  echo "FAIL: expected exit status $status"; exit 1
fi
grep -Eq -- "$pattern" "$log" || { echo "FAIL: output does not match: $pattern"; exit 1; }
[ ! -e "$output" ] || { echo "FAIL: $output was written"; exit 1; }
ls "$(dirname "$output")" | grep -q "^$(basename "$output")\." && { echo "FAIL: a temporary file was left"; exit 1; }
echo "PASS"
