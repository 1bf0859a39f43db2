#!/usr/bin/env bash
# A command that must end in one exact way, every test that decides by a command's output runs through this:
#   expect_exit.sh [--within SECONDS] [--absent FILE] [--across-lines] [--once] [--skip STATUS] STATUS PATTERN -- COMMAND...
# Passes when COMMAND exits with exactly STATUS (0 for a success) and its output (stdout and stderr) matches
# PATTERN (grep -E, on one line). CTest's PASS_REGULAR_EXPRESSION alone ignores the exit status, so a success
# checked by its output goes through here with STATUS 0. An exact status, not "any failure": a crash (139, 134)
# or a launcher's own reaction must not pass for the error under test.
# --within: COMMAND must end within SECONDS (it is stopped at three times that, a hang).
# --absent: FILE, removed beforehand, must not exist afterwards, nor a temporary ".FILE.tmp.*" / "FILE.tmp.*"
# beside it (a failed job leaves no partial file).
# --across-lines: PATTERN is matched against the whole output as one string, as PASS_REGULAR_EXPRESSION does
# (POSIX ERE: '.' and a newline in PATTERN match newlines; ^ and $ are the output's ends).
# --once: PATTERN must match exactly one line (one message, not one per thread or rank).
# --skip: COMMAND exiting STATUS is passed on as this script's status (the test's SKIP_RETURN_CODE).
set -u
within="" absent="" across_lines="" once="" skip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --within) within=$2; shift 2 ;;
    --absent) absent=$2; shift 2 ;;
    --across-lines) across_lines=1; shift ;;
    --once) once=1; shift ;;
    --skip) skip=$2; shift 2 ;;
    *) break ;;
  esac
done
usage="usage: expect_exit.sh [--within SECONDS] [--absent FILE] [--across-lines] [--once] [--skip STATUS] STATUS PATTERN -- COMMAND..."
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  echo "$usage" >&2
  exit 2
fi
status=$1 pattern=$2
shift 3
# grep -E reads a newline in PATTERN as "or": a multi-line pattern would match on any one of its lines.
if [ -z "$across_lines" ] && [[ "$pattern" == *$'\n'* ]]; then
  echo "expect_exit.sh: PATTERN spans lines; give --across-lines" >&2
  exit 2
fi
[ -n "$absent" ] && rm -f "$absent"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s%N)
if [ -n "$within" ]; then
  timeout --kill-after=5 $((within * 3)) "$@" >"$log" 2>&1
else
  "$@" >"$log" 2>&1
fi
actual=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$log"
echo "--- exit status $actual after ${elapsed_ms} ms"
fail() { echo "FAIL: $*"; exit 1; }
if [ -n "$skip" ] && [ "$actual" -eq "$skip" ]; then
  echo "SKIPPED (exit status $skip)"
  exit "$skip"
fi
if [ -n "$within" ]; then
  [ "$elapsed_ms" -lt $((within * 3000)) ] || fail "the command hung and was stopped after $((within * 3)) s"
  [ "$elapsed_ms" -le $((within * 1000)) ] || fail "took ${elapsed_ms} ms, more than ${within} s"
fi
[ "$actual" -eq "$status" ] || fail "expected exit status $status"
if [ -n "$across_lines" ]; then
  output=$(cat "$log")
  [[ "$output" =~ $pattern ]] || fail "output does not match (across lines): $pattern"
else
  grep -Eq -- "$pattern" "$log" || fail "output does not match: $pattern"
fi
if [ -n "$once" ]; then
  matches=$(grep -Ec -- "$pattern" "$log")
  [ "$matches" -eq 1 ] || fail "$matches lines match, expected exactly one: $pattern"
fi
if [ -n "$absent" ]; then
  [ ! -e "$absent" ] || fail "$absent was written"
  name=$(basename "$absent")
  ls -a "$(dirname "$absent")" 2>/dev/null | grep -Fq -e ".$name.tmp." -e "$name.tmp." && fail "a temporary file was left"
fi
echo "PASS"
