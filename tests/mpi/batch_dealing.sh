#!/usr/bin/env bash
# Dynamic dealing gives a free group the next job: batch_dealing.sh TESSERA MPIRUN...
# Two data-parallel groups of one rank; the first job is long (9 frames, 6 steps: about 5 s on a CPU core, against 0.15 s for a short one), the other eight are short
# (1 frame, 2 steps) and one of them fails (an unknown word). Dealt dynamically, the group that runs the long job
# runs nothing else while the other group runs all the rest, the failed job is recorded and does not stop the
# batch, and every rank ends (exit 1 for the failed job). The same jobs dealt in rounds (--deal rounds) give each
# group every other job: the control, which the first assertion rejects.
source "$(dirname "$0")/batch_test_setup.sh" "$@"
fail() { echo "FAIL: $*"; for log in "$dir"/*.log; do echo "--- $log"; cat "$log"; done; exit 1; }

jobs="$dir/jobs.jsonl"
echo '{"id": "long", "prompt": "red circle moving right", "frames": 9, "steps": 6}' >"$jobs"
prompts=("green square top right" "blue triangle bottom left" "purple dog center" "yellow circle bottom right"
         "cyan square center" "magenta triangle top left" "red square top left" "blue circle center")
for i in "${!prompts[@]}"; do
  printf '{"id": "short-%d", "prompt": "%s", "frames": 1, "steps": 2, "seed": %d}\n' "$i" "${prompts[$i]}" "$i" >>"$jobs"
done

# The group of each job in results.jsonl, as "id group" lines.
groups_of() { sed -E 's/.*"id":"([^"]+)".*"group":([0-9]+).*/\1 \2/' "$1/results.jsonl"; }
jobs_of_group() { groups_of "$1" | awk -v g="$2" '$2 == g' | wc -l; }

run() {  # run DEAL: the batch into $dir/DEAL, its exit status checked
  "${mpirun[@]}" -np 2 "$tessera" batch --jobs "$jobs" --out-dir "$dir/$1" --dp 2 --threads 1 --deal "$1" \
    >"$dir/$1.log" 2>&1
  local status=$?
  [ "$status" -eq 1 ] || fail "--deal $1 should exit 1 (one failed job), got $status"
  grep -q "batch done: 8 ok, 1 failed" "$dir/$1.log" || fail "--deal $1 does not report 8 ok, 1 failed"
  grep -q '"id":"short-2".*"status":"error".*unknown word' "$dir/$1/results.jsonl" || fail "the failed job is not recorded"
  [ "$(wc -l <"$dir/$1/results.jsonl")" -eq 9 ] || fail "--deal $1 recorded $(wc -l <"$dir/$1/results.jsonl") lines, not 9"
  for id in long short-0 short-1 short-3 short-4 short-5 short-6 short-7; do
    [ "$(grep -c "\"id\":\"$id\",.*\"status\":\"ok\"" "$dir/$1/results.jsonl")" -eq 1 ] || fail "$id is not ok once"
    tail -c 12 "$dir/$1/$id.png" | grep -q IEND || fail "$id.png is missing or partial"
  done
}

run dynamic
long_group=$(groups_of "$dir/dynamic" | awk '$1 == "long" {print $2}')
other=$((1 - long_group))
[ "$(jobs_of_group "$dir/dynamic" "$long_group")" -eq 1 ] ||
  fail "dealt dynamically, the long job's group $long_group ran $(jobs_of_group "$dir/dynamic" "$long_group") jobs, not 1"
[ "$(jobs_of_group "$dir/dynamic" "$other")" -eq 8 ] || fail "group $other did not run the 8 other jobs"

run rounds
[ "$(jobs_of_group "$dir/rounds" 0)" -eq 5 ] && [ "$(jobs_of_group "$dir/rounds" 1)" -eq 4 ] ||
  fail "in rounds the groups should run 5 and 4 jobs"
makespan() { grep -Eo 'in [0-9.]+ s \(' "$dir/$1.log" | grep -Eo '[0-9.]+'; }
echo "PASS: dealt dynamically, group $long_group ran the long job alone and group $other the other 8" \
     "($(makespan dynamic) s; in rounds $(makespan rounds) s)"
