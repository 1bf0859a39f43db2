#!/usr/bin/env bash
# The most real thing tessera does today, on 2 ranks: installs what is missing, builds, prints the build and
# each rank's device, runs a Wan2.1 transformer forward split across the 2 ranks (Ulysses, then Ring) on a
# small diffusers-made model and checks it against diffusers' own output, and measures the collectives.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${TESSERA_BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build.sh"
RUN="$BUILD_DIR/bin/tessera-run"
TESSERA="$BUILD_DIR/bin/tessera"
OUT_DIR="$BUILD_DIR/demo"
FIXTURE="$ROOT/tests/fixtures/wan/odd_tokens"  # WanTransformer3DModel saved by diffusers: 45 tokens, 2 heads
mkdir -p "$OUT_DIR"

echo "== tessera info (mpirun -np 2)"
"$RUN" -np 2 "$TESSERA" info

for strategy in "--ulysses 2" "--ring 2"; do
  name="wan_forward_${strategy//[- ]/}"
  echo
  echo "== Wan2.1 transformer forward, context parallel over 2 ranks ($strategy)"
  # shellcheck disable=SC2086
  "$RUN" -np 2 "$TESSERA" forward --model "$FIXTURE" --inputs "$FIXTURE/inputs.safetensors" \
    --output "$OUT_DIR/$name.safetensors" $strategy --stats
  "$BUILD_DIR/bin/tessera_compare_safetensors" "$OUT_DIR/$name.safetensors" "$FIXTURE/expected.safetensors" sample
done

echo
echo "== communication benchmark (mpirun -np 2): all_to_all, all_gather, ring exchange, all_reduce"
"$RUN" -np 2 "$TESSERA" bench comm --max-bytes 4M --seconds-per-point 0.05 --json "$OUT_DIR/comm_np2.json"

echo
echo "demo output in $OUT_DIR: wan_forward_ulysses2.safetensors, wan_forward_ring2.safetensors (the 'sample'"
echo "tensor, equal to diffusers' within 1e-5), comm_np2.json (bandwidth per collective and size)"
