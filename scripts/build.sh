#!/usr/bin/env bash
# Configures (once) and builds tessera into build/ with Ninja and ccache. Used by test.sh and demo.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${TESSERA_BUILD_DIR:-$ROOT/build}"
source "$ROOT/scripts/ccache_env.sh"
if [ -d /usr/local/cuda/bin ] && ! command -v nvcc >/dev/null; then export PATH="/usr/local/cuda/bin:$PATH"; fi
JOBS="${TESSERA_JOBS:-$(nproc)}"
# CI (CI=true, as .ci/run is run) fails on any warning, so the build stays warning-free.
warnings_as_errors=OFF
if [ "${CI:-}" = "true" ]; then warnings_as_errors=ON; fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${TESSERA_BUILD_TYPE:-RelWithDebInfo}" \
    -DTESSERA_WARNINGS_AS_ERRORS="$warnings_as_errors" "$@"
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
