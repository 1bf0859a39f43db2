#!/usr/bin/env bash
# Time per denoising step with the text K/V cache on and off, interleaved, on the inputs that
# benchmarks/text_kv_cache_inputs.py writes (benchmarks/results/text_kv_cache.md):
#   benchmarks/text_kv_cache_bench.sh DIR [REPEAT] [STEPS] [THREADS]
# Each run is `tessera denoise` at 1 rank with sequential CFG (two forwards per step); a run's time per step is the
# median of its steps after the first (the first fills the cache and warms up), and each setting's figure is the
# median over REPEAT runs.
set -euo pipefail
dir=$1 repeat=${2:-3} steps=${3:-5} threads=${4:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
tessera="$root/build/bin/tessera"
scheduler="$root/tests/fixtures/denoise/unipc_cfg5/scheduler"
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for inputs in "$dir"/*.safetensors; do
  name=$(basename "$inputs" .safetensors)
  for mode in off on; do : > "/tmp/text_kv_bench_${name}_${mode}"; done
  for _ in $(seq "$repeat"); do
    for mode in off on; do
      "$root/build/bin/tessera-run" -np 1 "$tessera" denoise --model "$dir/model" --inputs "$inputs" \
        --scheduler "$scheduler" --steps "$steps" --guidance-scale 5 --threads "$threads" \
        --text-kv-cache "$mode" --output "/tmp/text_kv_bench_${name}_${mode}.safetensors" 2>&1 |
        sed -n 's/.*step \([0-9]*\)\/[0-9]* t=[^ ]* \([0-9.]*\) s.*/\1 \2/p' | awk '$1 > 1 {print $2}' | median \
        >> "/tmp/text_kv_bench_${name}_${mode}"
    done
  done
  off=$(median < "/tmp/text_kv_bench_${name}_off")
  on=$(median < "/tmp/text_kv_bench_${name}_on")
  printf '%s: %s s/step off, %s s/step on, %.3fx (runs off: %s; on: %s)\n' "$name" "$off" "$on" \
    "$(echo "$off / $on" | bc -l)" "$(tr '\n' ' ' < "/tmp/text_kv_bench_${name}_off")" \
    "$(tr '\n' ' ' < "/tmp/text_kv_bench_${name}_on")"
  "$root/build/bin/tessera_compare_safetensors" "/tmp/text_kv_bench_${name}_on.safetensors" \
    "/tmp/text_kv_bench_${name}_off.safetensors" latents 0
done
