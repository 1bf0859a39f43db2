#!/usr/bin/env bash
# The one command for the GPU machine (device tool), run from the repository root with the bundle carried:
#   run(command="bash scripts/gpu_check.sh", carry=["device_bundle"])
# Prints what the machine has, builds with CUDA against the machine's own torch (python3) and the carried
# Debian bundle (scripts/device_bundle.sh, prepared on the CPU machine), runs the unit, MPI and GPU tests
# (NCCL with one rank; the MPI tests at 2 ranks sharing the GPU through the host-staged backend) and the
# communication benchmark, and leaves logs and JSON under $OUT.
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
export TORCH_CUDA_ARCH_LIST=9.0

echo "== build (CUDA on, the machine's torch)"
BUILD="$ROOT/build-gpu"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_PYTHON="$(command -v python3)" \
  "${CMAKE_EXTRA[@]}" >"$OUT/configure.log" 2>&1 || { tail -n 40 "$OUT/configure.log"; exit 1; }
grep "tessera:" "$OUT/configure.log"
cmake --build "$BUILD" -j "$(nproc)" >"$OUT/build.log" 2>&1 || { tail -n 60 "$OUT/build.log"; exit 1; }

echo "== tests: unit, MPI (CPU and host-staged CUDA tensors), GPU (NCCL, one rank)"
(cd "$BUILD" && ctest --output-on-failure -L "unit|mpi|gpu" -j 4) >"$OUT/ctest.log" 2>&1
status=$?
grep -E "tests passed|FAILED|Failed|Skipped" "$OUT/ctest.log" | tail -n 20
grep -c "SKIPPED" "$BUILD/Testing/Temporary/LastTest.log" | sed 's/^/gtest cases skipped: /'

echo "== tessera info on 2 ranks"
"$BUILD/bin/tessera-run" -np 2 "$BUILD/bin/tessera" info
echo "== communication benchmark"
"$BUILD/bin/tessera-run" -np 1 "$BUILD/bin/tessera" bench comm --backend nccl --device cuda \
  --json "$OUT/comm_nccl_cuda_np1.json" | tail -n 8
"$BUILD/bin/tessera-run" -np 2 "$BUILD/bin/tessera" bench comm --backend mpi --device cuda \
  --json "$OUT/comm_mpi_hoststaged_cuda_np2.json" | tail -n 8
echo "== done (ctest status $status); logs and JSON in $OUT"
exit $status
