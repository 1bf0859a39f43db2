#!/usr/bin/env bash
# The device check: what runs on the GPU machine, in two commands that each fit one device-tool call (at most
# 600 s, at most 8 files back; design and summary schema in docs/gpu_check.md):
#   run(command="bash scripts/gpu_check.sh build", carry=["device_bundle"])   # build + the CUDA tests
#   run(command="bash scripts/gpu_check.sh run", carry=["device_bundle"])     # pipelines vs diffusers + benchmarks
# Each command runs its phases under one global deadline (TESSERA_CHECK_DEADLINE_S, default 480 s from the
# command's start); a phase gets at most the time left, and phases that would start with less than
# TESSERA_CHECK_MIN_PHASE_S (10 s) left are skipped and reported as skipped. $OUT receives at most 4 files:
#   summary.json   per phase: status (passed/failed/skipped/timed_out) and seconds; test counts and cases;
#                  measured figures; versions. Rewritten before and after every phase, so a run killed by
#                  SIGKILL still leaves the latest one (its status says "incomplete" and which phase ran).
#   logs.tar.gz    every log, JUnit XML, gtest JSON, benchmark JSON and the pipelines' frames (rewritten too)
#   console.log    what the command printed
# On this (CPU) machine:
#   bash scripts/gpu_check.sh --rehearse [build|run|all]  # every step of both commands, CUDA not required
#   bash scripts/gpu_check.sh --selftest                  # no build: sizes, deadline machinery, summary schema
set -uo pipefail
SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SCRIPT")/.." && pwd)"
source "$ROOT/scripts/bundle_env.sh"

DEADLINE_S="${TESSERA_CHECK_DEADLINE_S:-480}"
MIN_PHASE_S="${TESSERA_CHECK_MIN_PHASE_S:-10}"
MAX_OUT_FILES="${TESSERA_CHECK_MAX_OUT_FILES:-4}"
SUMMARY_TOOL="$ROOT/scripts/gpu_summary.py"
# What the two commands run, and nothing else: the full build is about 300 steps.
BUILD_TARGETS=(tessera_cli tessera_gpu_tests tessera_mpi_tests tessera_nccl_abort_probe tessera_compare_safetensors
               tessera_compare_frames)
RUN_TARGETS=(tessera_cli tessera_compare_safetensors tessera_compare_frames)

# ---------------------------------------------------------------------------------------------------------------
# Phase machinery. A phase is a shell function run as `bash gpu_check.sh __phase FUNCTION ARGS` under `timeout`
# (which signals the phase's whole process group: mpirun and its ranks, ninja and its compilers), with its output
# in its own log. What phases need travels in exported variables.
# ---------------------------------------------------------------------------------------------------------------

now() { date +%s; }

say() { echo "| $*"; }  # inside a phase: a line the console shows (everything else stays in the phase's log)

json_string() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

record_phase() {  # record_phase NAME STATUS SECONDS RC LIMIT REASON: one line of $WORK/phases.jsonl
  printf '{"name": %s, "status": "%s", "seconds": %s, "rc": %s, "limit_s": %s, "reason": %s, "log": "logs/%s.log"}\n' \
    "$(json_string "$1")" "$2" "$3" "${4:-null}" "${5:-null}" "$(json_string "${6:-}")" "$1" >>"$WORK/phases.jsonl"
}

# Writes summary.json and logs.tar.gz into $OUT, each through a temporary name so a kill never leaves half a file.
publish() {  # publish [--final]
  python3 "$SUMMARY_TOOL" write --work "$WORK" --summary "$OUT/summary.json.tmp" "$@" >/dev/null 2>>"$WORK/logs/summary.log" &&
    mv -f "$OUT/summary.json.tmp" "$OUT/summary.json"
  # Model outputs (safetensors) and anything large stay out: the archive must come back (16 MiB a file).
  (cd "$WORK" && find . -type f ! -name '*.safetensors' -size -4M -print0 |
     tar --null -czf "$OUT/logs.tar.gz.tmp" -T - 2>/dev/null) && mv -f "$OUT/logs.tar.gz.tmp" "$OUT/logs.tar.gz"
}

phase_final_status() {  # phase_final_status NAME: the last recorded status of a phase ("" if none)
  python3 - "$WORK/phases.jsonl" "$1" <<'EOF'
import json, sys
status = ""
for line in open(sys.argv[1]):
    record = json.loads(line)
    if record["name"] == sys.argv[2]:
        status = record["status"]
print(status)
EOF
}

skip_phase() {  # skip_phase NAME REASON
  record_phase "$1" skipped 0 null null "$2"
  echo "== $1: skipped ($2)"
  publish
}

CURRENT_PHASE="" PHASE_PID="" PHASE_START=0 PHASE_LIMIT=0
# run_phase [--needs A,B] NAME LIMIT_S FUNCTION [ARGS...]: runs FUNCTION with at most LIMIT_S and never past the
# deadline; skipped if a phase it needs did not pass or too little time is left. The console shows the phase's
# `say` lines, and the tail of its log when it did not pass. Returns 0 when the phase passed.
run_phase() {
  local needs=""
  if [ "${1:-}" = --needs ]; then needs="$2"; shift 2; fi
  local name="$1" limit="$2"; shift 2
  local need remaining
  for need in ${needs//,/ }; do
    if [ "$(phase_final_status "$need")" != passed ]; then skip_phase "$name" "needs $need, which did not pass"; return 1; fi
  done
  remaining=$((DEADLINE_AT - $(now)))
  if [ "$remaining" -lt "$MIN_PHASE_S" ]; then
    skip_phase "$name" "deadline: ${remaining} s of ${DEADLINE_S} s left (a phase needs ${MIN_PHASE_S} s)"
    return 1
  fi
  local capped=$(( limit < remaining ? limit : remaining ))
  local log="$WORK/logs/$name.log"
  echo "== $name (at most $capped s; $remaining s left of the deadline)"
  record_phase "$name" running 0 null "$capped" "started at +$(( $(now) - START )) s"
  publish
  CURRENT_PHASE="$name" PHASE_START=$(now) PHASE_LIMIT=$capped
  # In the background so that a TERM to this script runs its trap at once instead of after the phase.
  timeout -k 10 "$capped" bash "$SCRIPT" __phase "$@" >"$log" 2>&1 &
  PHASE_PID=$!
  wait "$PHASE_PID"
  local rc=$? seconds=$(( $(now) - PHASE_START ))
  PHASE_PID="" CURRENT_PHASE=""
  local status=passed reason=""
  if [ "$rc" -ne 0 ]; then
    status=failed reason="exit status $rc"
    if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$seconds" -ge $((capped - 1)) ]; then
      status=timed_out
      if [ "$capped" -lt "$limit" ]; then reason="killed at the global deadline of $DEADLINE_S s"
      else reason="killed at the phase limit of $limit s"; fi
    fi
  fi
  record_phase "$name" "$status" "$seconds" "$rc" "$capped" "$reason"
  grep '^| ' "$log"
  [ "$status" != passed ] && tail -n 25 "$log" | grep -v '^| ' | sed 's/^/  /'
  echo "== $name: $status in $seconds s${reason:+ ($reason)}"
  publish
  [ "$status" = passed ]
}

# On any exit (also TERM or INT, which exit so that this runs): end a running phase, record it, publish the final
# summary and logs. Only SIGKILL skips this; the summary written before the phase then says what was running.
on_exit() {
  local rc=$?
  trap - EXIT TERM INT
  if [ -n "$PHASE_PID" ]; then
    kill -TERM -- "-$PHASE_PID" 2>/dev/null || kill -TERM "$PHASE_PID" 2>/dev/null
    sleep 1
    kill -KILL -- "-$PHASE_PID" 2>/dev/null
    record_phase "$CURRENT_PHASE" failed $(( $(now) - PHASE_START )) "$rc" "$PHASE_LIMIT" "interrupted by a signal"
  fi
  publish --final
  python3 "$SUMMARY_TOOL" --brief "$OUT/summary.json" 2>/dev/null
  exit "$rc"
}

# begin_check COMMAND: the deadline starts now; $WORK (outside $OUT) collects everything, $OUT gets the 4 files.
begin_check() {
  START=$(now)
  DEADLINE_AT=$((START + DEADLINE_S))
  export ROOT WORK="$BUILD/check/$1"
  rm -rf "$WORK"
  mkdir -p "$WORK/logs" "$OUT"
  : >"$WORK/phases.jsonl"
  python3 - "$WORK/check.json" "$1" "$MODE" "$DEADLINE_S" "$START" "$OUT" "$MAX_OUT_FILES" "$MIN_PHASE_S" <<'EOF'
import json, socket, sys
path, command, mode, deadline, start, out, max_files, min_phase = sys.argv[1:]
json.dump({"command": command, "mode": mode, "deadline_s": int(deadline), "started": int(start),
           "out": out, "max_out_files": int(max_files), "min_phase_s": int(min_phase),
           "host": socket.gethostname()}, open(path, "w"), indent=1)
EOF
  exec > >(tee -a "$OUT/console.log") 2>&1
  trap on_exit EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  echo "== gpu_check $1 ($MODE): deadline $DEADLINE_S s, phases skipped below $MIN_PHASE_S s left; work $WORK; out $OUT"
  publish
}

# ---------------------------------------------------------------------------------------------------------------
# Settings of the two modes: the GPU machine, and the rehearsal on a CPU machine (same steps and deadlines).
# ---------------------------------------------------------------------------------------------------------------
configure_mode() {
  MODE="${TESSERA_CHECK_MODE:-gpu}"
  if [ "$MODE" = rehearse ]; then
    BUILD="$ROOT/build-rehearse"
    OUT="${OUT:-$BUILD/out}"
    DEVICE=cpu
    local venv="${TESSERA_VENV:-$HOME/.cache/tessera/venv}"
    PYTHON="$venv/bin/python"; [ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
  else
    BUILD="$ROOT/build-gpu"
    OUT="${OUT:-$ROOT/gpu_out}"
    DEVICE=cuda
    PYTHON="$(command -v python3)"
  fi
  JOBS="${TESSERA_JOBS:-$(nproc)}"
  # The main build's compiler cache, so that a rehearsal compiles little (the GPU machine has none).
  source "$ROOT/scripts/ccache_env.sh"
  if [ -d /usr/local/cuda/bin ] && ! command -v nvcc >/dev/null; then export PATH="/usr/local/cuda/bin:$PATH"; fi
  openmpi_pin_transports
  # A hung collective ends with tessera's own message well before a phase's limit.
  export TESSERA_COMM_TIMEOUT_S="${TESSERA_COMM_TIMEOUT_S:-90}"
  export MODE BUILD OUT DEVICE PYTHON JOBS
}

# ---------------------------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------------------------

# Unpacks device_bundle/bundle.tar.xz once per machine (the unpacked copy persists in the build folder while the
# machine stays warm), checks that this machine's glibc can load it, and proves it works where it is, in seconds
# rather than after minutes of build: an MPI program compiled with its mpicc runs on 2 ranks under its mpirun,
# and a program calling each bundled C++ library links and runs (scripts/bundle_smoke/).
phase_bundle() {
  local archive="$ROOT/device_bundle/bundle.tar.xz" dest="$BUILD/bundle"
  local sum; sum="$(sha256sum "$archive" | cut -d' ' -f1)"
  cp "$ROOT/device_bundle/manifest.json" "$WORK/bundle_manifest.json" 2>/dev/null
  if [ "$(cat "$dest/.sha256" 2>/dev/null)" = "$sum" ]; then
    say "bundle already unpacked in $dest"
  else
    rm -rf "$dest" && mkdir -p "$dest" || return 1
    if command -v xz >/dev/null; then tar -xJf "$archive" -C "$dest" || return 1
    else "$PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$archive" "$dest" || return 1
    fi
    echo "$sum" >"$dest/.sha256"
    say "unpacked $(du -sh --apparent-size "$archive" | cut -f1) into $(du -sh --apparent-size "$dest" | cut -f1) at $dest"
  fi
  check_glibc "$WORK/bundle_manifest.json" || return 1
  bundle_mpi_test "$dest" && bundle_link_test "$dest"
}

check_glibc() {  # check_glibc MANIFEST: fails when this machine's glibc is older than the bundle needs
  local needs have
  needs="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["needs"]["glibc"])' "$1" 2>/dev/null)"
  have="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
  say "glibc: this machine $have, the bundle needs $needs"
  if [ -n "$needs" ] && [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$needs" "$have" | sort -V | head -n 1)" != "$needs" ]; then
    say "the bundle's libraries cannot load here (glibc $have < $needs): building with this machine's packages"
    return 1
  fi
}

# In a rehearsal as root, this machine's own Open MPI is hidden (a private mount namespace) so that nothing but
# the bundle can answer: Open MPI's relocation (OPAL_PREFIX, OPAL_SYSCONFDIR, PMIx's prefix) is what is tested.
bundle_mpi_test() {  # bundle_mpi_test BUNDLE_ROOT
  local dir="$BUILD/bundle-smoke" hide=""
  mkdir -p "$dir"
  if [ "$MODE" = rehearse ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
    hide="mount --make-rprivate / && for d in /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 \
/etc/openmpi /usr/share/openmpi; do [ ! -d \$d ] || mount -t tmpfs none \$d; done &&"
    say "this machine's own Open MPI is hidden for the test"
  fi
  local test="$hide source '$ROOT/scripts/bundle_env.sh' && bundle_activate '$1' && openmpi_pin_transports &&
    mpicc '$ROOT/scripts/bundle_smoke/mpi_hello.c' -o '$dir/mpi_hello' &&
    mpirun --oversubscribe --bind-to none -np 2 '$dir/mpi_hello' && ompi_info --path sysconfdir"
  if [ -n "$hide" ]; then unshare -m bash -c "$test"; else bash -c "$test"; fi 2>&1 | sed 's/^/| /'
  return "${PIPESTATUS[0]}"
}

bundle_link_test() {  # bundle_link_test BUNDLE_ROOT
  local libdir="$1/usr/lib/x86_64-linux-gnu" dir="$BUILD/bundle-smoke"
  (bundle_activate "$1" &&
   g++ -std=c++17 -I"$1/usr/include" "$ROOT/scripts/bundle_smoke/link_check.cpp" -o "$dir/link_check" \
     -DSPDLOG_SHARED_LIB -DSPDLOG_FMT_EXTERNAL -L"$libdir" "$libdir/libgtest.a" -lbenchmark -lsentencepiece \
     -licuuc -lpng16 -lspdlog -lfmt -pthread &&
   "$dir/link_check") 2>&1 | sed 's/^/| /'
  return "${PIPESTATUS[0]}"
}

# Rehearsal only (its build uses this machine's packages, for the compiler cache): the GPU build's configure
# against the bundle, and every dependency must be found inside it.
phase_bundle_configure() {
  local dir="$BUILD/bundle-configure" root="$BUILD/bundle" variable value status=0
  bundle_activate "$root"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${BUNDLE_CMAKE_ARGS[@]}" || return 1
  for variable in MPI_C_HEADER_DIR MPI_mpi_LIBRARY MPIEXEC_EXECUTABLE spdlog_DIR fmt_DIR GTest_DIR benchmark_DIR \
                  nlohmann_json_DIR cxxopts_DIR PNG_LIBRARY_RELEASE PNG_PNG_INCLUDE_DIR ZLIB_LIBRARY_RELEASE \
                  ICU_INCLUDE_DIR ICU_UC_LIBRARY_RELEASE SENTENCEPIECE_LIBRARY SENTENCEPIECE_INCLUDE_DIR; do
    value="$(grep "^$variable:" "$dir/CMakeCache.txt" | cut -d= -f2-)"
    case "$value" in "$root"/*) ;; *) say "$variable is $value: not in the bundle"; status=1 ;; esac
  done
  [ $status -eq 0 ] && say "configure against the bundle: every dependency found in it"
  return $status
}

# What the machine has, printed and kept as machine.json for the summary. The compute mode matters: under
# Exclusive_Process, ranks sharing the one GPU (the host-staged multi-rank tests) cannot all open it.
phase_machine() {
  local tool
  for tool in nvcc cmake ninja gcc g++ mpirun ccache xz python3; do say "$(printf '%-8s %s' "$tool" "$(command -v "$tool" || echo missing)")"; done
  say "cmake $(cmake --version 2>/dev/null | head -n 1 | awk '{print $3}'), $(nvcc --version 2>/dev/null | tail -n 1)"
  say "mpirun: $(mpirun --version 2>/dev/null | head -n 1)"
  say "glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}'), $(nproc) cores, $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_mode,mig.mode.current,persistence_mode \
      --format=csv 2>&1 | sed 's/^/| /'
    if nvidia-smi --query-gpu=compute_mode --format=csv,noheader 2>/dev/null | grep -q Exclusive; then
      say "WARNING: the GPU is in an exclusive compute mode: ranks sharing it will fail to open it"
    fi
  else
    say "nvidia-smi: missing"
  fi
  "$PYTHON" - "$WORK/machine.json" <<'EOF'
import json, os, platform, shutil, subprocess, sys
def run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return None
found = {"host": platform.node(), "cores": os.cpu_count(), "glibc": platform.libc_ver()[1],
         "python": platform.python_version()}
smi = run("nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_mode", "--format=csv,noheader")
if smi:
    found["nvidia_smi"] = [dict(zip(["name", "driver", "memory", "compute_mode"], [f.strip() for f in line.split(",")]))
                           for line in smi.splitlines()]
found["nvcc"] = (run("nvcc", "--version") or "").splitlines()[-1:] or None
found["cmake"] = ((run("cmake", "--version") or "").splitlines() or [None])[0]
found["mpirun"] = ((run("mpirun", "--version") or "").splitlines() or [None])[0]
found["mpirun_path"] = shutil.which("mpirun")
try:
    import torch
    found["torch"] = torch.__version__
    found["cuda"] = torch.version.cuda
    found["cuda_available"] = torch.cuda.is_available()
    try:
        found["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    except Exception:
        found["nccl"] = None
    found["gpus"] = [{"name": torch.cuda.get_device_name(i),
                      "capability": ".".join(map(str, torch.cuda.get_device_capability(i))),
                      "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)}
                     for i in range(torch.cuda.device_count())]
except Exception as error:  # the summary still gets the rest
    found["torch_error"] = str(error)
json.dump(found, open(sys.argv[1], "w"), indent=1)
print("| torch", found.get("torch"), "| CUDA", found.get("cuda"), "| NCCL", found.get("nccl"), "|",
      ", ".join(f"{g['name']} (sm_{g['capability'].replace('.', '')}, {g['memory_gib']} GiB)" for g in found.get("gpus", []))
      or "no GPU")
EOF
}

# Configure as the GPU build does. On the GPU machine CUDA and NCCL must be on (TESSERA_REQUIRE_CUDA fails
# configure otherwise, in seconds instead of after a build that could only skip); the rehearsal configures like
# the main build (scripts/build.sh) so that the compiler cache answers.
phase_configure() {
  local generator=Ninja
  command -v ninja >/dev/null || generator="Unix Makefiles"
  local args=(-S "$ROOT" -B "$BUILD" -G "$generator" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  if [ "$MODE" = gpu ]; then args+=(-DTESSERA_PYTHON="$PYTHON" -DTESSERA_REQUIRE_CUDA=ON); fi
  if [ -n "${TESSERA_BUNDLE_ROOT:-}" ]; then
    bundle_activate "$TESSERA_BUNDLE_ROOT"
    args+=("${BUNDLE_CMAKE_ARGS[@]}")
    say "building against the bundle in $TESSERA_BUNDLE_ROOT"
  fi
  cmake "${args[@]}" 2>&1 | tee "$WORK/configure.out"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  say "$(grep -h "tessera:" "$WORK/configure.out" | tail -n 1)"
}

phase_build() {  # phase_build TARGET...
  cmake --build "$BUILD" -j "$JOBS" --target "$@" || return 1
  say "built $* with $JOBS jobs"
}

# The CUDA cases only (label gpu): NCCL, the CUDA attention paths and kernels, Wan bf16/fp32 on CUDA, host-staged
# MPI collectives on CUDA tensors at 1, 2 and 4 ranks sharing the GPU, the NCCL abort path. Each test process
# writes its gtest JSON into $WORK/gtest/ and ctest its JUnit XML, for the summary's per-case results.
phase_gpu_tests() {
  mkdir -p "$WORK/gtest" "$WORK/ctest"
  (cd "$BUILD" && GTEST_OUTPUT="json:$WORK/gtest/" ctest -L "^gpu$" --output-on-failure \
     --output-junit "$WORK/ctest/ctest_gpu.xml") 2>&1 | tee "$WORK/ctest/ctest.out"
  local rc=${PIPESTATUS[0]}
  grep -E "tests passed|Not Run|\*\*\*|Failed|Skipped" "$WORK/ctest/ctest.out" | head -n 40 | sed 's/^/| /'
  return "$rc"
}

tessera_run() {  # tessera_run RANKS ARGS...: the CLI on RANKS ranks of the one device
  "$BUILD/bin/tessera-run" -np "$1" "$BUILD/bin/tessera" "${@:2}"
}

# `tessera forward` on 2 ranks sharing the device (backend auto picks host-staged MPI there and says so),
# fp32, against diffusers' sample.
phase_forward_np2() {
  local fixture="$ROOT/tests/fixtures/wan/uneven_rope" output="$WORK/outputs/forward_np2.safetensors"
  mkdir -p "$WORK/outputs" "$WORK/compare"
  tessera_run 2 forward --model "$fixture" --device "$DEVICE" --inputs "$fixture/inputs.safetensors" \
    --output "$output" --ulysses 2 --stats --dtype fp32 || return 1
  "$BUILD/bin/tessera_compare_safetensors" "$output" "$fixture/expected.safetensors" sample |
    sed 's/^/case uneven_rope: /' | tee "$WORK/compare/forward_np2.txt" | sed 's/^/| /'
  return "${PIPESTATUS[0]}"
}

# A tiny random pipeline folder (diffusers' save_pretrained) on 2 ranks (Ulysses 2) against diffusers' frames
# from the same noise: fp32 must be within 1/255; bf16 reports its largest difference (allowed 255: a figure).
phase_pipeline() {  # phase_pipeline wan|flux fp32|bf16
  local fixture="$ROOT/tests/fixtures/$1_pipeline" out="$WORK/outputs/$1_pipeline_$2" allowed=1 status=0 id
  [ "$2" = bf16 ] && allowed=255
  mkdir -p "$WORK/compare"
  rm -rf "$out"
  tessera_run 2 batch --model "$fixture/pipeline" --device "$DEVICE" --dtype "$2" --jobs "$fixture/jobs.jsonl" \
    --out-dir "$out" --ulysses 2 || return 1
  for id in $(grep -o '"id": *"[^"]*"' "$fixture/jobs.jsonl" | sed 's/.*"\([^"]*\)"$/\1/'); do
    "$BUILD/bin/tessera_compare_frames" "$out/$id.png" "$fixture/$id.safetensors" frames_uint8 "$allowed" 2>&1 |
      sed "s/^/case $id: /" | tee -a "$WORK/compare/$1_pipeline_$2.txt" | sed 's/^/| /'
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
  return $status
}

# Collective bandwidth (nccl-tests definitions), timed by the benchmark on the slowest rank.
phase_bench_comm() {  # phase_bench_comm BACKEND RANKS
  mkdir -p "$WORK/bench"
  local extra=()
  [ "$MODE" = rehearse ] && extra=(--max-bytes 4M)  # the CPU's host copies: the shape of the run, not its sizes
  tessera_run "$2" bench comm --backend "$1" --device "$DEVICE" --json "$WORK/bench/comm_$1_np$2.json" "${extra[@]}" |
    tail -n 12 | sed 's/^/| /'
  return "${PIPESTATUS[0]}"
}

# Wan2.1-1.3B widths, all 30 layers, random weights, bf16, 33 and 81 frames at 480p (9x60x104 and 21x60x104
# latents, 32,760 tokens), one rank: the time per step. The rehearsal runs the tiny config (a CPU would need hours).
phase_bench_scaling() {
  mkdir -p "$WORK/bench"
  # shellcheck disable=SC2054  # the commas separate the benchmark's sequences
  local args=(--model medium --layers 30 --sequences 9x60x104,21x60x104 --repeat 3 --warmup 1)
  [ "$MODE" = rehearse ] && args=(--model tiny --layers 2 --sequences 3x32x32 --repeat 1 --warmup 1)
  tessera_run 1 bench scaling "${args[@]}" --device "$DEVICE" --json "$WORK/bench/scaling_np1.json" |
    tail -n 8 | sed 's/^/| /'
  return "${PIPESTATUS[0]}"
}

# ---------------------------------------------------------------------------------------------------------------
# The two commands
# ---------------------------------------------------------------------------------------------------------------

# The bundle whenever it is there (not only where mpirun is missing: a machine's own Open MPI may lack what the
# build needs, and one set of libraries is easier to reason about). The rehearsal tests the bundle but builds
# against this machine's packages, so that the main build's compiler cache answers.
use_bundle() {  # use_bundle COMMAND
  if [ ! -f "$ROOT/device_bundle/bundle.tar.xz" ]; then
    skip_phase bundle "no device_bundle/bundle.tar.xz (scripts/device_bundle.sh): the machine's own packages"
    return
  fi
  run_phase bundle 150 phase_bundle || return
  if [ "$MODE" = gpu ]; then
    export TESSERA_BUNDLE_ROOT="$BUILD/bundle"
    bundle_activate "$TESSERA_BUNDLE_ROOT"
  elif [ "$1" = build ]; then
    run_phase bundle_configure 120 phase_bundle_configure
  fi
}

configure_once() {  # configure_once COMMAND: the run command reuses a configured build folder (a warm machine)
  # A generated build file, not just a CMakeCache.txt: that is also left by a configure that failed.
  if [ "$1" = run ] && { [ -f "$BUILD/build.ninja" ] || [ -f "$BUILD/Makefile" ]; }; then
    record_phase configure passed 0 0 null "already configured in $BUILD (this machine ran build)"
    echo "== configure: already configured in $BUILD"
  else
    run_phase configure 180 phase_configure
  fi
}

command_build() {
  use_bundle build
  run_phase machine 60 phase_machine
  configure_once build
  run_phase --needs configure build "$DEADLINE_S" phase_build "${BUILD_TARGETS[@]}"
  run_phase --needs build gpu_tests 400 phase_gpu_tests
}

command_run() {
  use_bundle run
  run_phase machine 60 phase_machine
  configure_once run
  # Nothing to do on the machine that ran `build`; a fresh machine builds what this command runs.
  run_phase --needs configure build "$DEADLINE_S" phase_build "${RUN_TARGETS[@]}"
  run_phase --needs build forward_np2 90 phase_forward_np2
  run_phase --needs build wan_pipeline_fp32 150 phase_pipeline wan fp32
  run_phase --needs build wan_pipeline_bf16 150 phase_pipeline wan bf16
  if [ -d "$ROOT/tests/fixtures/flux_pipeline/pipeline" ]; then
    run_phase --needs build flux_pipeline_fp32 150 phase_pipeline flux fp32
    run_phase --needs build flux_pipeline_bf16 150 phase_pipeline flux bf16
  fi
  if [ "$MODE" = gpu ]; then
    run_phase --needs build bench_comm_nccl_np1 90 phase_bench_comm nccl 1
  else
    skip_phase bench_comm_nccl_np1 "needs CUDA and NCCL (rehearsal on a CPU)"
  fi
  run_phase --needs build bench_comm_mpi_np2 90 phase_bench_comm mpi 2
  run_phase --needs build bench_scaling_medium 240 phase_bench_scaling
}

# ---------------------------------------------------------------------------------------------------------------
# Checks of the check: the rehearsal and the self-test (this machine)
# ---------------------------------------------------------------------------------------------------------------

# What the device tool would refuse or leave behind: more than MAX_OUT_FILES files, a file over 16 MiB, a path
# more than two folders down.
check_out_folder() {  # check_out_folder DIR
  local count big deep
  count=$(find "$1" -type f | wc -l)
  big=$(find "$1" -type f -size +16M | wc -l)
  deep=$(find "$1" -mindepth 4 | wc -l)
  echo "out folder $1: $count file(s) (at most $MAX_OUT_FILES), $big over 16 MiB, $deep too deep: $(ls "$1" | tr '\n' ' ')"
  [ "$count" -le "$MAX_OUT_FILES" ] && [ "$big" -eq 0 ] && [ "$deep" -eq 0 ]
}

# --rehearse [build|run|all]: the commands as the GPU machine would run them (same deadlines), each with its own
# out folder as each device call has, then the checks the device tool would apply.
rehearse() {
  local which="${1:-all}" commands=() command status=0
  case "$which" in build|run) commands=("$which") ;; all) commands=(build run) ;;
    *) echo "usage: $0 --rehearse [build|run|all]" >&2; return 2 ;; esac
  echo "== what would travel"
  bash "$ROOT/scripts/device_bundle.sh" --check || status=1
  for command in "${commands[@]}"; do
    local out="$ROOT/build-rehearse/out/$command"
    rm -rf "$out"
    TESSERA_CHECK_MODE=rehearse OUT="$out" bash "$SCRIPT" "$command" || status=1
    check_out_folder "$out" || status=1
    python3 "$SUMMARY_TOOL" --validate "$out/summary.json" || status=1
    python3 "$SUMMARY_TOOL" --table "$out/summary.json"
  done
  return $status
}

# A check with synthetic phases (no build): used by the self-test.
command_synthetic() {
  run_phase quick 30 phase_synthetic_sleep 0
  run_phase fails 30 phase_synthetic_fail
  run_phase slow 60 phase_synthetic_sleep 60          # outlives the deadline: timed_out
  run_phase --needs slow after_slow 30 phase_synthetic_sleep 0   # its prerequisite did not pass: skipped
  run_phase late 30 phase_synthetic_sleep 0           # no time left: skipped
}
phase_synthetic_sleep() { say "sleeping $1 s"; sleep "$1"; }
phase_synthetic_fail() { say "failing on purpose"; return 3; }

# --selftest: what CI can check without a build or a GPU, in about 20 s: the travel size; the phase machinery
# under a tiny deadline (one phase killed by it, later ones skipped), with the summary's schema and statuses
# validated; a check killed with SIGKILL mid-phase still leaves a valid summary naming the running phase; and
# the out folder's file count. Fails when any of these does.
selftest() {
  local dir status=0
  dir="$(mktemp -d)"
  echo "== what would travel"
  bash "$ROOT/scripts/device_bundle.sh" --check || status=1

  # 12 s: the quick phases finish well inside it even on a loaded machine, and the 60 s phase is still killed.
  echo "== synthetic check under a 12 s deadline"
  TESSERA_CHECK_MODE=rehearse TESSERA_CHECK_DEADLINE_S=12 TESSERA_CHECK_MIN_PHASE_S=2 OUT="$dir/deadline" \
    TESSERA_SELFTEST_BUILD="$dir/build" bash "$SCRIPT" __synthetic >"$dir/deadline.console" 2>&1
  sed 's/^/  /' "$dir/deadline.console"
  python3 "$SUMMARY_TOOL" --validate "$dir/deadline/summary.json" --expect-overall failed \
    --expect quick=passed --expect fails=failed --expect slow=timed_out --expect after_slow=skipped \
    --expect late=skipped || status=1
  check_out_folder "$dir/deadline" || status=1

  echo "== synthetic check killed with SIGKILL during its third phase"
  TESSERA_CHECK_MODE=rehearse TESSERA_CHECK_DEADLINE_S=60 TESSERA_CHECK_MIN_PHASE_S=2 OUT="$dir/killed" \
    TESSERA_SELFTEST_BUILD="$dir/build" setsid bash "$SCRIPT" __synthetic >"$dir/killed.console" 2>&1 &
  local pid=$!
  local waited=0
  until grep -q '== slow' "$dir/killed.console" 2>/dev/null || [ $waited -ge 600 ]; do sleep 0.1; waited=$((waited + 1)); done
  sleep 1
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # The phase ran under timeout, in a process group of its own: end what is left of that session too.
  local orphans; orphans="$(ps -o pid= -s "$pid" 2>/dev/null)"
  [ -n "$orphans" ] && kill -KILL $orphans 2>/dev/null
  python3 "$SUMMARY_TOOL" --validate "$dir/killed/summary.json" --expect-overall incomplete \
    --expect quick=passed --expect slow=running || status=1
  check_out_folder "$dir/killed" || status=1
  rm -rf "$dir"
  if [ $status -eq 0 ]; then echo "selftest: passed"; else echo "selftest: FAILED"; fi
  return $status
}

main() {
  case "${1:-}" in
    build|run)
      configure_mode
      begin_check "$1"
      if [ "$1" = build ]; then command_build; else command_run; fi
      # The exit status: 0 only when every phase passed or was skipped for a reason other than the deadline
      # (the exit trap then writes the final summary.json).
      [ "$(python3 "$SUMMARY_TOOL" write --work "$WORK" --summary "$WORK/summary.json" --final)" = passed ]
      ;;
    --rehearse) rehearse "${2:-all}" ;;
    --selftest) selftest ;;
    __synthetic)
      configure_mode
      BUILD="${TESSERA_SELFTEST_BUILD:?}"
      begin_check synthetic
      command_synthetic
      false  # exit 1: a phase failed (on purpose)
      ;;
    __phase)
      shift
      case "$1" in phase_*) "$@" ;; *) echo "not a phase: $1" >&2; exit 2 ;; esac
      ;;
    *)
      sed -n '2,16p' "$SCRIPT" | sed 's/^# \{0,1\}//'
      exit 2
      ;;
  esac
}

main "$@"
