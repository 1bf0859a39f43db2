#!/usr/bin/env bash
# Installs everything tessera needs to build and test, idempotently. A second run with everything present
# is quiet and takes seconds: it checks before it installs.
set -euo pipefail

TESSERA_VENV="${TESSERA_VENV:-$HOME/.cache/tessera/venv}"
TORCH_VERSION="2.11.0"
# Tooling pins: fixtures and plots only; the library never imports Python.
# transformers, sentencepiece, protobuf, tokenizers, ftfy: the Wan pipeline fixtures (UMT5, its tokenizer,
# WanPipeline's prompt cleaning). peft, accelerate: diffusers' LoRA backend (the LoRA fixtures' load_lora_weights).
PY_TOOLING=(diffusers==0.42.1 safetensors==0.8.0 numpy==2.4.6 matplotlib==3.10.7
  transformers==5.24.0 sentencepiece==0.2.3 protobuf==7.36.2 tokenizers==0.23.3 ftfy==6.3.1
  peft==0.21.2 accelerate==1.16.0)

log() { echo "[setup] $*"; }

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libopenmpi-dev openmpi-bin
  libcxxopts-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev  # the UMT5 / T5 tokenizers read spiece.model with it
  libicu-dev  # Unicode normalization in WanPipeline's prompt cleaning (NFC, fullwidth forms)
  libpng-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  libjpeg62-turbo-dev  # input images for image-to-video: JPEG files through libjpeg-turbo, as PIL decodes them
  python3-venv
  clang libclang-rt-dev llvm  # tests/fuzz: clang with libFuzzer and the sanitizer runtimes; llvm-symbolizer
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Prefer an interpreter that is not a pyenv shim so the venv survives pyenv changes.
PYTHON_FOR_VENV="${PYTHON_FOR_VENV:-$(command -v python3)}"
if [ ! -x "$TESSERA_VENV/bin/python" ]; then
  log "creating venv $TESSERA_VENV"
  mkdir -p "$(dirname "$TESSERA_VENV")"
  "$PYTHON_FOR_VENV" -m venv "$TESSERA_VENV"
  "$TESSERA_VENV/bin/pip" install -q --upgrade pip
fi

installed_version() { "$TESSERA_VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass
PY
}

if [ "$(installed_version torch)" != "$TORCH_VERSION" ]; then
  log "installing torch==$TORCH_VERSION into $TESSERA_VENV (large download, once)"
  "$TESSERA_VENV/bin/pip" install -q "torch==$TORCH_VERSION"
fi

need_tooling=()
for spec in "${PY_TOOLING[@]}"; do
  [ "$(installed_version "${spec%%==*}")" = "${spec##*==}" ] || need_tooling+=("$spec")
done
if ((${#need_tooling[@]})); then
  log "installing Python tooling: ${need_tooling[*]}"
  "$TESSERA_VENV/bin/pip" install -q "${need_tooling[@]}" "torch==$TORCH_VERSION"
fi
