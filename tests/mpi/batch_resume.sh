#!/usr/bin/env bash
# A batch killed with SIGKILL in the middle and rerun does every job exactly once: batch_resume.sh TESSERA MPIRUN...
# Two data-parallel groups of one rank; 20 jobs, a malformed line and a job with an unknown word. The first run
# is killed once a few jobs are recorded; the rerun must skip them, finish the rest, and leave one "ok" line per
# job, a complete PNG per job and no temporary file.
source "$(dirname "$0")/batch_test_setup.sh" "$@"
fail() { echo "FAIL: $*"; echo "--- first run"; cat "$dir/first.log"; echo "--- rerun"; cat "$dir/rerun.log" 2>/dev/null; exit 1; }

prompts=("red circle top left" "green square top right" "blue triangle bottom left" "yellow circle bottom right"
         "cyan square center" "magenta triangle top left" "red square moving right" "blue circle moving down"
         "green triangle center" "yellow square top right")
jobs="$dir/jobs.jsonl"
for i in $(seq 1 20); do
  printf '{"id": "job-%02d", "prompt": "%s", "seed": %d}\n' "$i" "${prompts[$(((i - 1) % 10))]}" "$i" >>"$jobs"
done
echo 'this line is not JSON' >>"$jobs"
echo '{"id": "unknown-word", "prompt": "purple circle center"}' >>"$jobs"
args=(batch --jobs "$jobs" --out-dir "$dir/out" --dp 2 --steps 12 --threads 1)

setsid "${mpirun[@]}" -np 2 "$tessera" "${args[@]}" >"$dir/first.log" 2>&1 &
leader=$!
ok_lines() { grep -c '"status":"ok"' "$dir/out/results.jsonl" 2>/dev/null || true; }
for _ in $(seq 1 1200); do
  [ "$(ok_lines)" -ge 4 ] && break
  kill -0 "$leader" 2>/dev/null || break
  sleep 0.05
done
kill -9 -- "-$leader" 2>/dev/null
wait "$leader" 2>/dev/null
before=$(ok_lines)
echo "killed the first run with $before job(s) recorded ok"
[ "$before" -ge 1 ] || fail "no job finished before the kill"
[ "$before" -lt 20 ] || fail "the batch finished before it could be killed; the test proves nothing"
for png in "$dir"/out/*.png; do
  [ -e "$png" ] || continue
  tail -c 12 "$png" | grep -q IEND || fail "$png is a partial PNG"
done

"${mpirun[@]}" -np 2 "$tessera" "${args[@]}" >"$dir/rerun.log" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "the rerun should exit 1 (two bad job lines), got $status"
grep -Eq "[0-9]+ already done" "$dir/rerun.log" || fail "the rerun does not report the jobs it skipped"
skipped=$(grep -Eo "[0-9]+ already done" "$dir/rerun.log" | head -1 | cut -d' ' -f1)
[ "$skipped" -ge "$before" ] || fail "the rerun skipped $skipped jobs, fewer than the $before recorded"
for i in $(seq 1 20); do
  id=$(printf 'job-%02d' "$i")
  count=$(grep -c "\"id\":\"$id\",.*\"status\":\"ok\"" "$dir/out/results.jsonl")
  [ "$count" -eq 1 ] || fail "$id has $count ok lines"
  tail -c 12 "$dir/out/$id.png" | grep -q IEND || fail "$id.png is missing or partial"
done
grep -q '"status":"error".*line 21: not valid JSON' "$dir/out/results.jsonl" || fail "the malformed line is not recorded"
grep -q '"id":"unknown-word".*"status":"error".*unknown word' "$dir/out/results.jsonl" || fail "the unknown word is not recorded"
if ls -a "$dir/out" | grep -q '\.tmp\.'; then fail "a temporary file was left"; fi
echo "PASS: $before job(s) done before the kill, $skipped skipped on rerun, every job done exactly once"
