#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds, runs ctest.
# Extra arguments go to ctest (e.g. scripts/test.sh -L mpi).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build.sh"
cd "${TESSERA_BUILD_DIR:-$ROOT/build}"
ctest --output-on-failure -j "${TESSERA_TEST_JOBS:-$(nproc)}" "$@"
