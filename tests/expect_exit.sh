#!/usr/bin/env bash
# A command that must fail in one exact way:
#   expect_exit.sh [--within SECONDS] [--absent FILE] [--once] STATUS PATTERN -- COMMAND...
# Passes when COMMAND exits with exactly STATUS and its output (stdout and stderr) matches PATTERN (grep -E).
# An exact status, not "any failure": a crash (139, 134) or a launcher's own reaction must not pass for the
# error under test. --within: COMMAND must end within SECONDS (it is stopped at three times that, a hang).
# --absent: FILE, removed beforehand, must not exist afterwards, nor a temporary ".FILE.tmp.*" / "FILE.tmp.*"
# beside it (a failed job leaves no partial file). --once: PATTERN must match exactly one line (one message, not
# one per thread or rank).
set -u
within="" absent="" once=""
while [ $# -gt 0 ]; do
  case "$1" in
    --within) within=$2; shift 2 ;;
    --absent) absent=$2; shift 2 ;;
    --once) once=1; shift ;;
    *) break ;;
  esac
done
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: expect_exit.sh [--within SECONDS] [--absent FILE] [--once] STATUS PATTERN -- COMMAND..." >&2
  exit 2
fi
status=$1 pattern=$2
shift 3
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
if [ -n "$within" ]; then
  [ "$elapsed_ms" -lt $((within * 3000)) ] || fail "the command hung and was stopped after $((within * 3)) s"
  [ "$elapsed_ms" -le $((within * 1000)) ] || fail "took ${elapsed_ms} ms, more than ${within} s"
fi
[ "$actual" -eq "$status" ] || fail "expected exit status $status"
grep -Eq -- "$pattern" "$log" || fail "output does not match: $pattern"
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
