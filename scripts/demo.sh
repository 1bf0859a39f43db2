#!/usr/bin/env bash
# The most real thing tessera does today, on 2 ranks: installs what is missing, builds, prints the build and
# each rank's device, then measures the collectives that context parallelism is made of.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${TESSERA_BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build.sh"
RUN="$BUILD_DIR/bin/tessera-run"
TESSERA="$BUILD_DIR/bin/tessera"
OUT_DIR="$BUILD_DIR/demo"
mkdir -p "$OUT_DIR"

echo "== tessera info (mpirun -np 2)"
"$RUN" -np 2 "$TESSERA" info

echo
echo "== communication benchmark (mpirun -np 2): all_to_all, all_gather, ring exchange, all_reduce"
"$RUN" -np 2 "$TESSERA" bench comm --max-bytes 4M --seconds-per-point 0.05 --json "$OUT_DIR/comm_np2.json"

echo
echo "demo output: $OUT_DIR/comm_np2.json"
