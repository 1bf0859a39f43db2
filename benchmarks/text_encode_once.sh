#!/usr/bin/env bash
# Peak resident memory per rank, and the prompt encode time, of one generation whose text encoder has UMT5-XXL's
# widths (benchmarks/make_wide_text_folder.py), at 1 and 2 ranks (Ulysses 2), for two binaries: one where every
# rank encodes the prompts (BEFORE, e.g. a build of commit da9689d) and one where rank 0 encodes and sends them.
#   benchmarks/text_encode_once.sh BEFORE_BIN AFTER_BIN [FOLDER] [WORK_DIR]   -> a markdown table on stdout
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BEFORE="$1"
AFTER="$2"
FOLDER="${3:-/tmp/wan_wide_text}"
WORK="${4:-/tmp/tessera_text_encode_once}"
PYTHON="${TESSERA_PYTHON:-$HOME/.cache/tessera/venv/bin/python}"
mkdir -p "$WORK"
if [ ! -f "$FOLDER/text_encoder/model.safetensors" ]; then
  "$PYTHON" "$ROOT/benchmarks/make_wide_text_folder.py" --out "$FOLDER" --layers 6 >&2
fi

# The encode time is rank 0's debug line (the after binary logs it); the generation time includes it.
echo "| binary | ranks | peak RSS rank 0 (MiB) | peak RSS rank 1 (MiB) | encode on rank 0 (s) | generation (s) |"
echo "|---|---|---|---|---|---|"
for which in before after; do
  binary="$BEFORE"
  [ "$which" = after ] && binary="$AFTER"
  for ranks in 1 2; do
    parallel=""
    [ "$ranks" = 2 ] && parallel="--ulysses 1 --ring 2"
    rm -f "$WORK"/peak_*
    log="$WORK/${which}_np${ranks}.log"
    # Each rank writes its own peak (Open MPI names the rank in OMPI_COMM_WORLD_RANK).
    "$ROOT/launch/tessera-run" -np "$ranks" sh -c "exec /usr/bin/time -f %M -o $WORK/peak_\$OMPI_COMM_WORLD_RANK \
      $binary generate --model $FOLDER --prompt 'a fox in the snow' --height 32 --width 32 --frames 1 --steps 2 \
      --dtype bf16 --threads 1 --log-level debug $parallel --out $WORK/${which}_np${ranks}.png" >"$log" 2>&1 ||
      { echo "failed: see $log" >&2; tail -5 "$log" >&2; exit 1; }
    peak0=$(($(tail -1 "$WORK/peak_0") / 1024))
    peak1="-"
    [ -f "$WORK/peak_1" ] && peak1=$(($(tail -1 "$WORK/peak_1") / 1024))
    encode=$(grep -o 'rank 0/[0-9]*\] \[debug\] encoded[a-z ]* [0-9]* prompt(s) in [0-9.e-]* s' "$log" | head -1 |
             awk '{ print $(NF - 1) }' || true)
    total=$(grep -o 'in [0-9.]* s (' "$log" | head -1 | awk '{ print $2 }' || true)
    echo "| $which | $ranks | $peak0 | $peak1 | ${encode:--} | ${total:--} |"
  done
done
