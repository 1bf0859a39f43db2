#!/usr/bin/env bash
# Peak resident memory per rank and time per step of one generation with and without --shard-weights, at 1 and 2
# ranks: a Wan2.1 transformer at 1.3B widths (30 layers, bf16, random weights from make_large_checkpoint.py) with the
# tiny fixture's text encoder, VAE and scheduler, so the transformer dominates.
#   [MODES="plain sharded fp8 sharded_fp8"] benchmarks/shard_weights_memory.sh [BUILD_DIR] [WORK_DIR] [RANKS...]
#   -> a markdown table on stdout. A mode: plain or sharded (--shard-weights), with _fp8 / _fp8-scaled for
#   --weights fp8 / fp8-scaled (fp8 alone: unsharded FP8). A sharded mode's frames are compared with the unsharded
#   mode of the same weights. MODES defaults to "plain sharded".
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"  # holds bin/tessera
WORK="${2:-/tmp/tessera_shard_weights}"
shift $(( $# < 2 ? $# : 2 ))
RANKS=("${@:-1 2}")
MODES="${MODES:-plain sharded}"
PYTHON="${TESSERA_PYTHON:-$HOME/.cache/tessera/venv/bin/python}"
TINY="$ROOT/tests/fixtures/wan_pipeline/pipeline"
WIDE="$WORK/wan_1p3b_widths_4ch"
mkdir -p "$WORK"
if [ ! -f "$WIDE/transformer/diffusion_pytorch_model.safetensors.index.json" ]; then
  rm -rf "$WIDE" && mkdir -p "$WIDE"
  for part in scheduler text_encoder tokenizer vae model_index.json; do ln -s "$TINY/$part" "$WIDE/$part"; done
  "$PYTHON" "$ROOT/benchmarks/make_large_checkpoint.py" --out "$WIDE/transformer" --layers 30 --dtype bf16 \
    --text-dim 32 --channels 4 --seed 1 >&2
fi

# One generation; prints the largest peak RSS over the ranks in MiB and rank 0's seconds per step.
run() {
  local ranks="$1" mode="$2"
  local log="$WORK/run_${ranks}_${mode}.log" flags=()
  case "$mode" in sharded*) flags=(--shard-weights) ;; esac
  case "$mode" in *_fp8-scaled | fp8-scaled) flags+=(--weights fp8-scaled) ;; *_fp8 | fp8) flags+=(--weights fp8) ;; esac
  "$ROOT/launch/tessera-run" -np "$ranks" /usr/bin/time -f "peak_rss_kib %M" "$BUILD/bin/tessera" generate \
    --model "$WIDE" --prompt "a fox in the snow" --height 64 --width 64 --frames 1 --steps 2 --guidance-scale 1 \
    --dtype bf16 --threads 1 --skip-memory-check "${flags[@]}" --out "$WORK/out_${ranks}_${mode}.png" >"$log" 2>&1 ||
    { echo "failed: see $log" >&2; tail -5 "$log" >&2; exit 1; }
  local peak step
  peak=$(grep -o 'peak_rss_kib [0-9]*' "$log" | awk '{ if ($2 > m) m = $2 } END { printf "%.0f", m / 1024 }')
  step=$(grep -o '([0-9.]* s/step' "$log" | head -1 | tr -d '(' | awk '{ print $1 }')
  echo "$peak $step"
}

echo "| ranks | weights | peak RSS per rank (MiB) | s/step (rank 0) | frames equal to unsharded |"
echo "|---|---|---|---|---|"
for ranks in ${RANKS[@]}; do
  for mode in $MODES; do
    read -r peak step <<<"$(run "$ranks" "$mode")"
    same=-
    # The unsharded run of the same weights: plain for sharded, fp8 for sharded_fp8.
    case "$mode" in sharded) whole=plain ;; sharded_*) whole="${mode#sharded_}" ;; *) whole= ;; esac
    if [ -n "$whole" ] && [ -f "$WORK/out_${ranks}_${whole}.png" ]; then
      cmp -s "$WORK/out_${ranks}_${whole}.png" "$WORK/out_${ranks}_${mode}.png" && same=yes || same=no
    fi
    echo "| $ranks | $mode | $peak | $step | $same |"
  done
done
