#!/usr/bin/env bash
# The one command for the GPU machine (device tool), run from the repository root with the bundle carried:
#   run(command="bash scripts/gpu_check.sh", carry=["device_bundle"])
# Prints what the machine has, builds with CUDA against the machine's own torch (python3) and the carried
# Debian bundle (scripts/device_bundle.sh, prepared on the CPU machine), runs the unit, MPI and GPU tests
# (label gpu: NCCL, the CUDA attention paths, Wan in bf16 and fp32, context parallelism on CUDA tensors at 2 and
# 4 ranks sharing the GPU through host-staged MPI, the NCCL abort path) and the communication benchmark, and
# leaves logs, JUnit XML and summary.json (pass/fail per test, versions, timings) under $OUT. Budget: under
# 8 minutes on a 16-core machine, build included.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/gpu_out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

echo "== what this machine has"
for tool in mpirun nvcc cmake ninja python3; do printf '%-8s %s\n' "$tool" "$(command -v "$tool" || echo missing)"; done
nvcc --version 2>/dev/null | tail -n 2
python3 -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '| NCCL', '.'.join(map(str, torch.cuda.nccl.version())), '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null

CMAKE_EXTRA=()
BUNDLE="$ROOT/device_bundle/root"
if ! command -v mpirun >/dev/null; then
  if [ ! -d "$BUNDLE" ]; then
    echo "no mpirun here and no device_bundle/: run scripts/device_bundle.sh on the CPU machine and carry device_bundle"
    exit 1
  fi
  echo "== using the carried bundle $BUNDLE"
  # Debian names the Open MPI programs *.openmpi behind /etc/alternatives; give them their usual names.
  mkdir -p "$ROOT/device_bundle/bin"
  for tool in mpirun mpiexec mpicc mpicxx; do ln -sfn "$BUNDLE/usr/bin/$tool.openmpi" "$ROOT/device_bundle/bin/$tool"; done
  export OPAL_PREFIX="$BUNDLE/usr"  # Open MPI finds its components and help files relative to this
  export PATH="$ROOT/device_bundle/bin:$BUNDLE/usr/bin:$PATH"
  MPI_LIB="$BUNDLE/usr/lib/x86_64-linux-gnu/openmpi/lib"
  export LD_LIBRARY_PATH="$BUNDLE/usr/lib/x86_64-linux-gnu:$MPI_LIB:${LD_LIBRARY_PATH:-}"
  CMAKE_EXTRA+=(-DCMAKE_PREFIX_PATH="$BUNDLE/usr;$BUNDLE/usr/lib/x86_64-linux-gnu/cmake"
                -DMPI_C_COMPILER="$ROOT/device_bundle/bin/mpicc"
                -DMPI_C_HEADER_DIR="$BUNDLE/usr/lib/x86_64-linux-gnu/openmpi/include"
                -DMPI_C_LIB_NAMES=mpi -DMPI_mpi_LIBRARY="$MPI_LIB/libmpi.so")
  mpirun --version | head -n 1
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

phase_start=$(date +%s)
phase() {  # phase NAME: records the seconds since the previous phase ended
  local now; now=$(date +%s)
  echo "\"$1\": $((now - phase_start))," >>"$OUT/phases.txt"
  phase_start=$now
}
: >"$OUT/phases.txt"

echo "== build (CUDA on, the machine's torch): the library, the CLI and the GPU tests only, to stay within minutes"
BUILD="$ROOT/build-gpu"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_PYTHON="$(command -v python3)" \
  "${CMAKE_EXTRA[@]}" >"$OUT/configure.log" 2>&1 || { tail -n 40 "$OUT/configure.log"; exit 1; }
grep "tessera:" "$OUT/configure.log"
build_status=0
cmake --build "$BUILD" -j "$(nproc)" --target tessera_cli tessera_gpu_tests tessera_mpi_tests tessera_nccl_abort_probe tessera_compare_safetensors \
  tessera_compare_frames \
  >"$OUT/build.log" 2>&1 || { build_status=$?; tail -n 60 "$OUT/build.log"; }
phase build

status=$build_status
if [ "$build_status" -eq 0 ]; then
  echo "== GPU tests: NCCL (1 rank, and a GPU per rank where there are several), CUDA attention at head sizes"
  echo "   10/12/64/128, Wan bf16 vs fp32 and fp32 vs diffusers, Ulysses/Ring/USP on CUDA tensors at 2 and 4 ranks"
  echo "   over host-staged MPI, the NCCL abort path"
  # Every gtest process (each rank of each run) also writes its cases' results under $OUT/gtest/.
  mkdir -p "$OUT/gtest"
  (cd "$BUILD" && GTEST_OUTPUT="json:$OUT/gtest/" timeout 300 ctest --output-on-failure -L gpu \
     --output-junit "$OUT/ctest_gpu.xml") \
    >"$OUT/ctest.log" 2>&1
  status=$?
  grep -E "tests passed|FAILED|Failed|Skipped|\*\*\*" "$OUT/ctest.log" | tail -n 30
  phase tests

  echo "== tessera forward on 2 ranks sharing the GPU (backend auto must pick host-staged MPI and say so)"
  fixture="$ROOT/tests/fixtures/wan/uneven_rope"
  timeout 120 "$BUILD/bin/tessera-run" -np 2 "$BUILD/bin/tessera" forward --model "$fixture" --device cuda \
    --inputs "$fixture/inputs.safetensors" --output "$OUT/forward_cuda_np2.safetensors" --ulysses 2 --stats --dtype fp32 \
    2>&1 | tee "$OUT/forward_cuda_np2.log" | grep -E "backend auto|cuda|error" | head -n 8
  "$BUILD/bin/tessera_compare_safetensors" "$OUT/forward_cuda_np2.safetensors" "$fixture/expected.safetensors" sample
  echo "== the tiny Wan2.1 pipeline (UMT5, transformer, UniPC, VAE split decode) on CUDA, 2 ranks sharing the GPU,"
  echo "   against diffusers' WanPipeline frames: fp32 must be within 1/255; bf16 prints its largest difference"
  pipeline="$ROOT/tests/fixtures/wan_pipeline"
  for dtype in fp32 bf16; do
    rm -rf "$OUT/wan_pipeline_$dtype"
    timeout 180 "$BUILD/bin/tessera-run" -np 2 "$BUILD/bin/tessera" batch --model "$pipeline/pipeline" --device cuda \
      --dtype "$dtype" --jobs "$pipeline/jobs.jsonl" --out-dir "$OUT/wan_pipeline_$dtype" --ulysses 2 \
      >"$OUT/wan_pipeline_$dtype.log" 2>&1 || { status=1; tail -n 20 "$OUT/wan_pipeline_$dtype.log"; }
    allowed=1; [ "$dtype" = bf16 ] && allowed=255
    for case in clip_cfg still_no_cfg; do
      "$BUILD/bin/tessera_compare_frames" "$OUT/wan_pipeline_$dtype/$case.png" "$pipeline/$case.safetensors" \
        frames_uint8 "$allowed" || status=1
    done
  done
  echo "== communication benchmark"
  timeout 120 "$BUILD/bin/tessera-run" -np 1 "$BUILD/bin/tessera" bench comm --backend nccl --device cuda \
    --json "$OUT/comm_nccl_cuda_np1.json" | tail -n 8
  timeout 120 "$BUILD/bin/tessera-run" -np 2 "$BUILD/bin/tessera" bench comm --backend mpi --device cuda \
    --json "$OUT/comm_mpi_hoststaged_cuda_np2.json" | tail -n 8
  echo "== scaling bench on the GPU: Wan2.1-1.3B widths with all 30 layers (random weights), bf16, 81 frames at"
  echo "   480p (21x60x104 latent, 32,760 tokens) and 33 frames, one rank (the time per step issue 15 asks for)"
  timeout 300 "$BUILD/bin/tessera-run" -np 1 "$BUILD/bin/tessera" bench scaling --model medium --layers 30 \
    --sequences 9x60x104,21x60x104 --repeat 3 --warmup 1 --json "$OUT/scaling_cuda_np1.json" | tail -n 8
  phase benchmarks
fi

python3 "$ROOT/scripts/gpu_summary.py" --out "$OUT" --build-status "$build_status" --ctest-status "$status" \
  >"$OUT/summary.json" && echo "== summary: $OUT/summary.json" && head -c 3000 "$OUT/summary.json"
echo
echo "== done (status $status); logs and JSON in $OUT"
exit $status
