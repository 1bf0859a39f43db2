#!/usr/bin/env bash
# Peak resident memory per rank of a two-expert (Wan2.2 A14B layout) generation with each --idle-expert policy,
# at 1 and 2 ranks: the tiny fixture's two experts, and two experts at Wan2.1-1.3B widths (30 layers, bf16, random
# weights from make_large_checkpoint.py, the tiny fixture's text encoder and VAE, so the transformers dominate).
#   benchmarks/expert_memory.sh [BUILD_DIR] [WORK_DIR]   -> a markdown table on stdout
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"  # holds bin/tessera
WORK="${2:-/tmp/tessera_expert_memory}"
PYTHON="${TESSERA_PYTHON:-$HOME/.cache/tessera/venv/bin/python}"
TINY="$ROOT/tests/fixtures/wan22_pipeline/pipeline"
mkdir -p "$WORK"

# The 1.3B-width folder: the tiny folder's small parts, two large experts (text_dim = the tiny encoder's 32).
WIDE="$WORK/wan22_1p3b_widths_4ch"
if [ ! -f "$WIDE/transformer_2/diffusion_pytorch_model.safetensors.index.json" ]; then
  rm -rf "$WIDE" && mkdir -p "$WIDE"
  for part in scheduler text_encoder tokenizer vae model_index.json; do ln -s "$TINY/$part" "$WIDE/$part"; done
  "$PYTHON" "$ROOT/benchmarks/make_large_checkpoint.py" --out "$WIDE/transformer" --layers 30 --dtype bf16 \
    --text-dim 32 --channels 4 --seed 1 >&2
  "$PYTHON" "$ROOT/benchmarks/make_large_checkpoint.py" --out "$WIDE/transformer_2" --layers 30 --dtype bf16 \
    --text-dim 32 --channels 4 --seed 2 >&2
fi

# One generation; prints the largest peak RSS over the ranks in MiB and the switch seconds rank 0 logged.
run() {
  local folder="$1" ranks="$2" policy="$3" dtype="$4" size="$5"
  local log="$WORK/run_${ranks}_${policy}_$(basename "$folder").log"
  "$ROOT/launch/tessera-run" -np "$ranks" /usr/bin/time -f "peak_rss_kib %M" "$BUILD/bin/tessera" generate \
    --model "$folder" --prompt "a fox in the snow" --height "$size" --width "$size" --frames 1 --steps 4 \
    --dtype "$dtype" --idle-expert "$policy" --threads 1 --out "$WORK/out_${ranks}_${policy}.png" >"$log" 2>&1 ||
    { echo "failed: see $log" >&2; tail -5 "$log" >&2; exit 1; }
  local peak switch
  peak=$(grep -o 'peak_rss_kib [0-9]*' "$log" | awk '{ if ($2 > m) m = $2 } END { printf "%.0f", m / 1024 }')
  switch=$(grep -o 'switch(es) took [0-9.e-]* s' "$log" | head -1 | awk '{ print $3 }')
  echo "$peak ${switch:--}"
}

echo "| folder | ranks | --idle-expert | peak RSS per rank (MiB) | switch time rank 0 (s) |"
echo "|---|---|---|---|---|"
for folder in "$TINY:fp32:64" "$WIDE:bf16:256"; do
  IFS=: read -r dir dtype size <<<"$folder"
  for ranks in 1 2; do
    for policy in resident reload; do
      read -r peak switch <<<"$(run "$dir" "$ranks" "$policy" "$dtype" "$size")"
      echo "| $(basename "$(dirname "$dir")")/$(basename "$dir") ($dtype, ${size}x${size}) | $ranks | $policy | $peak | $switch |"
    done
  done
done
