#!/usr/bin/env bash
# Peak resident memory per rank and time per step of one generation with and without --shard-weights, at 1 and 2
# ranks: a Wan2.1 transformer at 1.3B widths (30 layers, bf16, random weights from make_large_checkpoint.py) with the
# tiny fixture's text encoder, VAE and scheduler, so the transformer dominates.
#   [MODES="plain sharded fp8 sharded_fp8"] benchmarks/shard_weights_memory.sh [BUILD_DIR] [WORK_DIR] [RANKS...]
#   -> a markdown table on stdout. A mode: plain or sharded (--shard-weights), with _fp8 / _fp8-scaled for
#   --weights fp8 / fp8-scaled (fp8 alone: unsharded FP8). A sharded mode's frames are compared with the unsharded
#   mode of the same weights. MODES defaults to "plain sharded". MODEL=DIR runs that pipeline folder instead (e.g. one
#   with a UMT5-width text encoder: make_wide_text_folder.py), whose text encoder rank 0 holds whole unsharded.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"  # holds bin/tessera
WORK="${2:-/tmp/tessera_shard_weights}"
shift $(( $# < 2 ? $# : 2 ))
RANKS=("${@:-1 2}")
MODES="${MODES:-plain sharded}"
PYTHON="${TESSERA_PYTHON:-$HOME/.cache/tessera/venv/bin/python}"
TINY="$ROOT/tests/fixtures/wan_pipeline/pipeline"
WIDE="${MODEL:-$WORK/wan_1p3b_widths_4ch}"
mkdir -p "$WORK"
if [ -z "${MODEL:-}" ] && [ ! -f "$WIDE/transformer/diffusion_pytorch_model.safetensors.index.json" ]; then
  rm -rf "$WIDE" && mkdir -p "$WIDE"
  for part in scheduler text_encoder tokenizer vae model_index.json; do ln -s "$TINY/$part" "$WIDE/$part"; done
  "$PYTHON" "$ROOT/benchmarks/make_large_checkpoint.py" --out "$WIDE/transformer" --layers 30 --dtype bf16 \
    --text-dim 32 --channels 4 --seed 1 >&2
fi

# One generation; prints rank 0's peak RSS and the largest of the other ranks' ("-" at 1 rank) in MiB, and rank 0's
# seconds per step.
run() {
  local ranks="$1" mode="$2"
  local log="$WORK/run_${ranks}_${mode}.log" rss="$WORK/rss_${ranks}_${mode}" flags=()
  rm -f "$rss".*
  case "$mode" in sharded*) flags=(--shard-weights) ;; esac
  case "$mode" in *_fp8-scaled | fp8-scaled) flags+=(--weights fp8-scaled) ;; *_fp8 | fp8) flags+=(--weights fp8) ;; esac
  # Each rank's maximum resident set in its own file, by its rank in the launch.
  "$ROOT/launch/tessera-run" -np "$ranks" sh -c 'exec /usr/bin/time -f "%M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' \
    "$rss" "$BUILD/bin/tessera" generate \
    --model "$WIDE" --prompt "a fox in the snow" --height 64 --width 64 --frames 1 --steps 2 --guidance-scale 1 \
    --dtype bf16 --threads 1 --skip-memory-check "${flags[@]}" --out "$WORK/out_${ranks}_${mode}.png" >"$log" 2>&1 ||
    { echo "failed: see $log" >&2; tail -5 "$log" >&2; exit 1; }
  local rank0 others step
  rank0=$(awk '{ printf "%.0f", $1 / 1024 }' "$rss.0")
  others=$(find "$WORK" -maxdepth 1 -name "rss_${ranks}_${mode}.*" ! -name "*.0" -exec cat {} + | awk '{ if ($1 > m) m = $1 } END { if (NR) printf "%.0f", m / 1024; else print "-" }')
  step=$(grep -o '([0-9.]* s/step' "$log" | head -1 | tr -d '(' | awk '{ print $1 }')
  echo "$rank0 $others $step"
}

echo "| ranks | weights | peak RSS rank 0 (MiB) | peak RSS other ranks, largest (MiB) | s/step (rank 0) | frames equal to unsharded |"
echo "|---|---|---|---|---|---|"
for ranks in ${RANKS[@]}; do
  for mode in $MODES; do
    read -r rank0 others step <<<"$(run "$ranks" "$mode")"
    same=-
    # The unsharded run of the same weights: plain for sharded, fp8 for sharded_fp8.
    case "$mode" in sharded) whole=plain ;; sharded_*) whole="${mode#sharded_}" ;; *) whole= ;; esac
    if [ -n "$whole" ] && [ -f "$WORK/out_${ranks}_${whole}.png" ]; then
      cmp -s "$WORK/out_${ranks}_${whole}.png" "$WORK/out_${ranks}_${mode}.png" && same=yes || same=no
    fi
    echo "| $ranks | $mode | $rank0 | $others | $step | $same |"
  done
done
