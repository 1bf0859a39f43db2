#!/usr/bin/env bash
# One fuzz target for a while: run_fuzzer.sh BINARY SECONDS SEEDS WORK [libFuzzer flags...].
# Starts from the committed SEEDS with a fresh working corpus in WORK/corpus (the seeds are only read), puts any
# crashing, leaking, hanging or memory-hungry input in WORK/artifacts, and exits non-zero on any finding.
set -euo pipefail
binary="$1" seconds="$2" seeds="$3" work="$4"
shift 4
rm -rf "$work/corpus" "$work/artifacts"
mkdir -p "$work/corpus" "$work/artifacts"
# The config harnesses write each input to a file; in memory that is about twice as fast as on disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
# A UBSan report aborts with a stack (the build already makes it fatal); symbolized stacks when available.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds"
