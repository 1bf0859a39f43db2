#!/usr/bin/env bash
# The most real thing tessera does today, on 2 ranks: installs what is missing, builds, prints the build and
# each rank's device, runs a Wan2.1 transformer forward split across the 2 ranks (Ulysses, then Ring) on a
# small diffusers-made model and checks it against diffusers' own output, runs the denoising loop with CFG and
# First Block Cache across the 2 ranks and checks it against diffusers' loop, and measures the collectives.
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

DENOISE="$ROOT/tests/fixtures/denoise"  # inputs and diffusers' final latents (scripts/fixtures/denoise.py)
DENOISE_ARGS=(--model "$ROOT/tests/fixtures/wan/uneven_rope" --inputs "$DENOISE/unipc_cfg5/inputs.safetensors"
              --scheduler "$DENOISE/unipc_cfg5/scheduler" --steps 6 --guidance-scale 5)
echo
echo "== denoising loop, 6 UniPC steps with CFG 5, uncached on 1 rank, against diffusers' WanPipeline loop"
"$RUN" -np 1 "$TESSERA" denoise "${DENOISE_ARGS[@]}" --output "$OUT_DIR/denoise_np1.safetensors"
"$BUILD_DIR/bin/tessera_compare_safetensors" "$OUT_DIR/denoise_np1.safetensors" "$DENOISE/unipc_cfg5/expected.safetensors" latents
echo
echo "== the same loop on 2 ranks (Ulysses 2) with First Block Cache (threshold 0.1), decisions in --stats-json"
"$RUN" -np 2 "$TESSERA" denoise "${DENOISE_ARGS[@]}" --ulysses 2 --cache fbc:threshold=0.1 \
  --stats-json "$OUT_DIR/denoise_fbc_np2_stats.json" --output "$OUT_DIR/denoise_fbc_np2.safetensors"
echo "against diffusers' loop with FirstBlockCacheConfig(threshold=0.1):"
"$BUILD_DIR/bin/tessera_compare_safetensors" "$OUT_DIR/denoise_fbc_np2.safetensors" "$DENOISE/unipc_cfg5_fbc/expected.safetensors" latents
echo "against the uncached loop (what the skipped blocks cost; within 1% here):"
"$BUILD_DIR/bin/tessera_compare_safetensors" "$OUT_DIR/denoise_fbc_np2.safetensors" "$OUT_DIR/denoise_np1.safetensors" latents 0.01
"$BUILD_DIR/bin/tessera_check_cache_stats" "$OUT_DIR/denoise_fbc_np2_stats.json" 2

echo
echo "== communication benchmark (mpirun -np 2): all_to_all, all_gather, ring exchange, all_reduce"
"$RUN" -np 2 "$TESSERA" bench comm --max-bytes 4M --seconds-per-point 0.05 --json "$OUT_DIR/comm_np2.json"

echo
echo "demo output in $OUT_DIR: wan_forward_ulysses2.safetensors, wan_forward_ring2.safetensors (the 'sample'"
echo "tensor, equal to diffusers' within 1e-5), denoise_np1.safetensors and denoise_fbc_np2.safetensors (final"
echo "'latents', equal to diffusers' loop without and with its First Block Cache within 1e-5),"
echo "denoise_fbc_np2_stats.json (what every block did at every step on each rank), comm_np2.json (bandwidth per"
echo "collective and size)"
