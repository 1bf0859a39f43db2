#!/usr/bin/env bash
# CPU time per denoising step with the text K/V cache on and off, for a machine that other work shares (wall time
# per step swings by a third there; one thread's user CPU time does not depend on how often it is descheduled):
#   benchmarks/text_kv_cache_cpu_time.sh DIR [REPEAT]
# On each input of benchmarks/text_kv_cache_inputs.py, `tessera denoise` (1 rank, 1 thread, sequential CFG) runs
# 1 and 5 steps, interleaved on/off, REPEAT times; a step's CPU time is (user time of 5 steps - of 1 step) / 4, so
# loading and the first step (which fills the cache) cancel out. Prints each run and the medians.
set -euo pipefail
dir=$1 repeat=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
scheduler="$root/tests/fixtures/denoise/unipc_cfg5/scheduler"
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
user_seconds() {  # inputs mode steps
  /usr/bin/time -f "%U" -o /tmp/text_kv_cpu_time "$root/build/bin/tessera" denoise --model "$dir/model" \
    --inputs "$1" --scheduler "$scheduler" --steps "$3" --guidance-scale 5 --threads 1 --text-kv-cache "$2" \
    --output /tmp/text_kv_cpu_time.safetensors --log-level warn
  tail -1 /tmp/text_kv_cpu_time
}
for inputs in "$dir"/*.safetensors; do
  name=$(basename "$inputs" .safetensors)
  declare -A per_step=([off]="" [on]="")
  for _ in $(seq "$repeat"); do
    for mode in off on; do
      one=$(user_seconds "$inputs" "$mode" 1)
      five=$(user_seconds "$inputs" "$mode" 5)
      step=$(echo "($five - $one) / 4" | bc -l)
      echo "$name $mode: 1 step ${one} s, 5 steps ${five} s user: $(printf '%.3f' "$step") s/step"
      per_step[$mode]+="$step"$'\n'
    done
  done
  off=$(printf '%s' "${per_step[off]}" | median)
  on=$(printf '%s' "${per_step[on]}" | median)
  printf '%s: median %.3f s/step off, %.3f s/step on: %.3fx\n' "$name" "$off" "$on" "$(echo "$off / $on" | bc -l)"
done
