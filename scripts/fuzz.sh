#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz, with clang) and runs each for a while, then prints executions and
# findings per target. scripts/fuzz.sh [SECONDS (default 60)] [TARGET...] (default: all of tests/fuzz/corpus/).
# Findings (crash-*, leak-*, timeout-*, oom-*) stay in <build>/fuzz/runs/TARGET/artifacts with the full log
# next to them; reproduce one with <build>/fuzz/fuzz_TARGET FILE. Exits non-zero when anything was found.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_BUILD="${TESSERA_BUILD_DIR:-$ROOT/build}/fuzz"
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  for dir in "$ROOT"/tests/fuzz/corpus/*/; do TARGETS+=("$(basename "$dir")"); done
fi

source "$ROOT/scripts/ccache_env.sh"
if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
  cmake -S "$ROOT/tests/fuzz" -B "$FUZZ_BUILD" -G Ninja -DCMAKE_CXX_COMPILER="${TESSERA_FUZZ_CXX:-clang++}" \
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
fi
cmake --build "$FUZZ_BUILD" -j "${TESSERA_JOBS:-$(nproc)}"

printf '%-18s %10s %12s %8s %s\n' target exec/s executions corpus findings
status=0
for target in "${TARGETS[@]}"; do
  work="$FUZZ_BUILD/runs/$target"
  mkdir -p "$work"
  bash "$ROOT/tests/fuzz/run_fuzzer.sh" "$FUZZ_BUILD/fuzz_$target" "$SECONDS_EACH" "$ROOT/tests/fuzz/corpus/$target" \
       "$work" >"$work/log" 2>&1 || status=1
  final_stat() { sed -n "s/^stat::$1: *//p" "$work/log" | tail -n 1; }
  findings="$(ls "$work/artifacts")"
  printf '%-18s %10s %12s %8s %s\n' "$target" "$(final_stat average_exec_per_sec)" "$(final_stat number_of_executed_units)" \
         "$(ls "$work/corpus" | wc -l)" "${findings:-none}"
  if [ -n "$findings" ]; then status=1; fi
done
exit "$status"
