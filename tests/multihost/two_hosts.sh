#!/usr/bin/env bash
# A 4-rank job on two emulated hosts (emulated_hosts.sh), 2 ranks each, launched by tessera-run with a hostfile
# and agent.sh in place of ssh, over TCP on the hosts' bridge:
#   two_hosts.sh SCENARIO TESSERA TESSERA_RUN COMPARE_SAFETENSORS FIXTURE
#   usp          forward with --ulysses 2 --ring 2 (Ulysses inside a host, Ring across) equals the 1-rank output
#   local-ranks  `tessera info`: ranks 0,1 on the first host and 2,3 on the second, local ranks 0 and 1 on each
#   host-killed  the second host dies mid-forward (cable cut, every process SIGKILLed); the first host's ranks
#                must end by tessera's communication deadline, before mpirun could know of the loss
# Exits 77 (ctest skip) where the hosts cannot be emulated.
set -u
scenario=$1 tessera=$2 tessera_run=$3 compare=$4 fixture=$5
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
name="" job=""
cleanup() {
  [ -n "$job" ] && kill -9 -- "-$job" 2>/dev/null  # mpirun's process group; its agents.sh follow it out
  [ -n "$name" ] && "$here/emulated_hosts.sh" down "$name"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

hosts=$("$here/emulated_hosts.sh" up) || exit $?
read -r name subnet <<<"$hosts"
printf '%sa slots=2\n%sb slots=2\n' "$name" "$name" >"$dir/hostfile"
echo "emulated hosts ${name}a and ${name}b on $subnet"
# Daemons reach mpirun and ranks reach each other only on the hosts' subnet; shared memory inside a host.
# shellcheck disable=SC2054  # self,vader,tcp is one argument
run=("$tessera_run" --hostfile "$dir/hostfile" -np 4 --mca plm_rsh_agent "$here/agent.sh"
     --mca oob_tcp_if_include "$subnet" --mca btl_tcp_if_include "$subnet" --mca btl self,vader,tcp)
forward=("$tessera" forward --model "$fixture" --inputs "$fixture/inputs.safetensors")

case "$scenario" in
usp)
  timeout --kill-after=5 60 "${forward[@]}" --output "$dir/np1.safetensors" || fail "the 1-rank forward failed"
  timeout --kill-after=5 90 "${run[@]}" "${forward[@]}" --output "$dir/np4.safetensors" --ulysses 2 --ring 2 --stats ||
    fail "the 4-rank forward on two hosts failed"
  "$compare" "$dir/np4.safetensors" "$dir/np1.safetensors" sample || fail "two hosts differ from 1 rank"
  ;;
local-ranks)
  timeout --kill-after=5 90 "${run[@]}" "$tessera" info | tee "$dir/info.log"
  for line in "0 a 0" "1 a 1" "2 b 0" "3 b 1"; do
    read -r rank host local_rank <<<"$line"
    grep -Eq "rank $rank: host $name$host, .*\(local rank $local_rank of 2\)" "$dir/info.log" ||
      fail "rank $rank is not local rank $local_rank of 2 on host $name$host"
  done
  ;;
host-killed)
  deadline=5 keepalive=30
  export TESSERA_COMM_TIMEOUT_S=$deadline MULTIHOST_KEEPALIVE_S=$keepalive
  # -x: remote ranks start with a bare environment (agent.sh, like sshd), so the deadline must be forwarded.
  setsid timeout --kill-after=5 120 "${run[@]}" -x TESSERA_COMM_TIMEOUT_S "${forward[@]}" \
    --output "$dir/np4.safetensors" --ulysses 2 --ring 2 --repeat 1000000 >"$dir/job.log" 2>&1 &
  job=$!
  for _ in $(seq 1 600); do
    grep -q "forward 3/" "$dir/job.log" && break
    kill -0 "$job" 2>/dev/null || { cat "$dir/job.log"; fail "the job ended before the host could be killed"; }
    sleep 0.1
  done
  grep -q "forward 3/" "$dir/job.log" || { cat "$dir/job.log"; fail "the job did not start within 60 s"; }
  start=$(now_ms)
  "$here/emulated_hosts.sh" cut "${name}b"
  ip netns pids "${name}b" | xargs -r kill -9
  echo "killed host ${name}b"
  # The survivors must end by themselves: mpirun cannot know of the loss before the agent's keepalive.
  while [ -n "$(ip netns pids "${name}a")" ]; do
    (( $(now_ms) - start < keepalive * 1000 )) || break
    sleep 0.1
  done
  survivors_ms=$(($(now_ms) - start))
  message="communication deadline exceeded: .* did not complete within $deadline s on world rank [01]; a peer never arrived or died"
  for _ in $(seq 1 50); do  # their last words reach mpirun's output through the first host's daemon
    grep -Eq "$message" "$dir/job.log" && break
    sleep 0.1
  done
  # mpirun itself (Open MPI 4.1) waits for the lost daemon until TCP gives up, minutes later; end it here.
  kill -9 -- "-$job" 2>/dev/null
  wait "$job" 2>/dev/null
  job=""
  grep -v "forward [0-9]*/" "$dir/job.log"
  echo "--- the survivors ended ${survivors_ms} ms after the kill (deadline ${deadline}s, agent keepalive ${keepalive}s)"
  [ -z "$(ip netns pids "${name}a")" ] || fail "the survivors still ran ${keepalive}s after the kill"
  (( survivors_ms < (deadline + 10) * 1000 )) || fail "the survivors took longer than the deadline + 10 s"
  grep -Eq "$message" "$dir/job.log" || fail "no communication deadline message from a survivor (rank 0 or 1)"
  ;;
*) fail "unknown scenario $scenario" ;;
esac
echo "PASS: $scenario"
