#!/usr/bin/env bash
# The most real thing tessera does today, on 2 ranks: installs what is missing, builds, then generates from
# prompts with the embedded default model (a Wan transformer trained by `tessera train`, shipped in
# models/tessera-shapes): images and a clip split across 2 ranks with a step cache, a batch job in two
# data-parallel groups, and the judge's whole prompt set as one grid. Then the parity checks against diffusers
# (a Wan2.1 forward, the denoising loop and the whole Wan2.1 pipeline, across 2 ranks), an image-to-video clip from
# a picture the demo made, and the collective bandwidth.
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

echo "== generate with the embedded model on 2 ranks (Ulysses 2, First Block Cache)"
for prompt in "red circle top left" "green triangle bottom right" "blue square center"; do
  "$RUN" -np 2 "$TESSERA" generate --prompt "$prompt" --ulysses 2 --cache fbc:threshold=0.1 --upscale 4 \
    --out "$OUT_DIR/${prompt// /_}.png"
done
echo
echo "== a clip: 4 frames, Ring 2, as H.264"
"$RUN" -np 2 "$TESSERA" generate --prompt "yellow circle moving right" --ring 2 --upscale 8 --fps 4 \
  --out "$OUT_DIR/yellow_circle_moving_right.mp4"
echo
echo "== a batch of 6 prompts in 2 data-parallel groups of 1 rank (rerunning it skips what is done)"
rm -rf "$OUT_DIR/batch"
cat >"$OUT_DIR/jobs.jsonl" <<'JOBS'
{"id": "magenta-square", "prompt": "magenta square top right"}
{"id": "cyan-triangle", "prompt": "cyan triangle center", "seed": 3}
{"id": "red-moving-down", "prompt": "red square moving down", "format": "mp4"}
{"id": "blue-circle", "prompt": "blue circle bottom left"}
{"id": "green-moving-left", "prompt": "green circle moving left"}
{"id": "yellow-triangle", "prompt": "yellow triangle top left", "steps": 10}
JOBS
"$RUN" -np 2 "$TESSERA" batch --jobs "$OUT_DIR/jobs.jsonl" --out-dir "$OUT_DIR/batch" --dp 2 --upscale 4
echo
echo "== the judge's 24 prompts on 2 ranks (Ulysses 2), one grid"
"$RUN" -np 2 "$TESSERA" bench judge --ulysses 2 --grid "$OUT_DIR/grid.png" --upscale 3

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
echo "== the real Wan2.1 pipeline on 2 ranks (Ulysses 2): a tiny random WanPipeline folder saved by diffusers"
echo "   (UMT5 + SentencePiece tokenizer, transformer, UniPC, Wan VAE with its decode split across both ranks),"
echo "   two prompts through tessera batch, against diffusers' WanPipeline from the same starting noise"
WAN_PIPELINE="$ROOT/tests/fixtures/wan_pipeline"
rm -rf "$OUT_DIR/wan_pipeline"
"$RUN" -np 2 "$TESSERA" batch --model "$WAN_PIPELINE/pipeline" --jobs "$WAN_PIPELINE/jobs.jsonl" \
      --out-dir "$OUT_DIR/wan_pipeline" --ulysses 2
for case in clip_cfg still_no_cfg; do
  "$BUILD_DIR/bin/tessera_compare_frames" "$OUT_DIR/wan_pipeline/$case.png" "$WAN_PIPELINE/$case.safetensors" frames_uint8
done

echo
echo "== the FLUX.1 pipeline on 2 ranks (Ring 2): a tiny random FluxPipeline folder saved by diffusers (CLIP + BPE"
echo "   tokenizer, T5 + SentencePiece, the FLUX transformer with guidance embedding, FlowMatchEuler with the"
echo "   resolution shift, AutoencoderKL split across both ranks), against diffusers' FluxPipeline"
FLUX_PIPELINE="$ROOT/tests/fixtures/flux_pipeline"
rm -rf "$OUT_DIR/flux_pipeline"
"$RUN" -np 2 "$TESSERA" batch --model "$FLUX_PIPELINE/pipeline" --jobs "$FLUX_PIPELINE/jobs.jsonl" \
      --out-dir "$OUT_DIR/flux_pipeline" --ring 2
for case in fox_guidance cafe_low_guidance; do
  "$BUILD_DIR/bin/tessera_compare_frames" "$OUT_DIR/flux_pipeline/$case.png" "$FLUX_PIPELINE/$case.safetensors" frames_uint8
done

echo
echo "== image-to-video on 2 ranks (Ulysses 2): the demo's own picture blue_square_center.png as the first frame of"
echo "   a tiny random WanImageToVideoPipeline folder saved by diffusers (CLIP image encoder, the image's VAE latents"
echo "   and frame mask beside the noise). Its weights are random, so the clip shows the path, not a good video."
WAN_I2V="$ROOT/tests/fixtures/wan_i2v_pipeline"
"$RUN" -np 2 "$TESSERA" generate --model "$WAN_I2V/pipeline" --image "$OUT_DIR/blue_square_center.png" \
  --prompt "a blue square drifts" --ulysses 2 --steps 4 --frames 9 --height 48 --width 48 --upscale 4 \
  --out "$OUT_DIR/i2v_blue_square.mp4"
echo "   and the fixture's own image against diffusers' WanImageToVideoPipeline from the same starting noise:"
"$RUN" -np 2 "$TESSERA" generate --model "$WAN_I2V/pipeline" --image "$WAN_I2V/first.png" \
  --prompt "A red fox turns its head" --negative-prompt blurry --guidance-scale 5 --steps 4 --frames 9 \
  --height 48 --width 64 --seed 7 --ulysses 2 --out "$OUT_DIR/i2v_fixture.png"
"$BUILD_DIR/bin/tessera_compare_frames" "$OUT_DIR/i2v_fixture.png" "$WAN_I2V/image_to_video.safetensors" frames_uint8
echo
echo "== communication benchmark (mpirun -np 2): all_to_all, all_gather, ring exchange, all_reduce"
"$RUN" -np 2 "$TESSERA" bench comm --max-bytes 4M --seconds-per-point 0.05 --json "$OUT_DIR/comm_np2.json"

echo
echo "demo output in $OUT_DIR: red_circle_top_left.png, green_triangle_bottom_right.png, blue_square_center.png,"
echo "yellow_circle_moving_right.mp4, batch/ (one file per job and results.jsonl), grid.png (the judge's prompt set);"
echo "wan_forward_ulysses2.safetensors, wan_forward_ring2.safetensors (the 'sample'"
echo "tensor, equal to diffusers' within 1e-5), denoise_np1.safetensors and denoise_fbc_np2.safetensors (final"
echo "'latents', equal to diffusers' loop without and with its First Block Cache within 1e-5),"
echo "denoise_fbc_np2_stats.json (what every block did at every step on each rank), wan_pipeline/ (the tiny"
echo "WanPipeline's frames, equal to diffusers' within 1/255), flux_pipeline/ (the tiny FluxPipeline's images, the"
echo "same), i2v_blue_square.mp4 (image-to-video from the demo's picture), i2v_fixture.png (the tiny"
echo "WanImageToVideoPipeline's frames, equal to diffusers' within 1/255), comm_np2.json (bandwidth per collective and"
echo "size)"
