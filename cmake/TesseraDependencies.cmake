# --- LibTorch from the PyPI wheel in the venv (scripts/setup.sh installs it) ---
set(TESSERA_VENV "$ENV{TESSERA_VENV}")
if(NOT TESSERA_VENV)
  set(TESSERA_VENV "$ENV{HOME}/.cache/tessera/venv")
endif()
set(TESSERA_PYTHON "${TESSERA_VENV}/bin/python" CACHE FILEPATH "Python that has torch (its cmake files locate LibTorch)")
if(NOT EXISTS "${TESSERA_PYTHON}")
  message(FATAL_ERROR "No Python at ${TESSERA_PYTHON}. Run scripts/setup.sh, or pass -DTESSERA_PYTHON=/path/to/python with torch installed.")
endif()
execute_process(
  COMMAND "${TESSERA_PYTHON}" -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(torch.__version__)"
  OUTPUT_VARIABLE _torch_query OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _torch_rc)
if(NOT _torch_rc EQUAL 0)
  message(FATAL_ERROR "${TESSERA_PYTHON} cannot import torch. Run scripts/setup.sh.")
endif()
string(REPLACE "\n" ";" _torch_query "${_torch_query}")
list(GET _torch_query 0 _torch_prefix)
list(GET _torch_query 1 TESSERA_TORCH_VERSION)
list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
get_filename_component(TESSERA_SITE_PACKAGES "${_torch_prefix}/../../.." ABSOLUTE)

# CUDA is on when nvcc is present; the wheel is a CUDA build and its cmake files want the toolkit.
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  include(TesseraCudaArchitectures)  # CMAKE_CUDA_ARCHITECTURES: what LibTorch supports, as far as nvcc allows
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
endif()
find_package(Torch REQUIRED)
# Torch's imported targets carry their own -D_GLIBCXX_USE_CXX11_ABI and include dirs; we add no flags globally.
set(TESSERA_WITH_CUDA OFF)
if(CMAKE_CUDA_COMPILER AND TARGET torch_cuda)
  set(TESSERA_WITH_CUDA ON)
endif()

# --- NCCL: the wheel's nvidia-nccl (the same library torch loads), so one NCCL per process ---
set(TESSERA_WITH_NCCL OFF)
if(TESSERA_WITH_CUDA)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS "${TESSERA_SITE_PACKAGES}/nvidia/nccl/include" NO_DEFAULT_PATH)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS "${TESSERA_SITE_PACKAGES}/nvidia/nccl/lib" NO_DEFAULT_PATH)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(TESSERA_WITH_NCCL ON)
    add_library(tessera_nccl SHARED IMPORTED)
    set_target_properties(tessera_nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
  endif()
endif()
message(STATUS "tessera: torch ${TESSERA_TORCH_VERSION}, CUDA ${TESSERA_WITH_CUDA} (${TESSERA_CUDA_ARCHITECTURE_LIST}), NCCL ${TESSERA_WITH_NCCL} (${NCCL_LIBRARY})")
# The GPU check configures with this on: a build without CUDA or NCCL there would only run skips.
option(TESSERA_REQUIRE_CUDA "Fail at configure time unless CUDA and NCCL are both on" OFF)
if(TESSERA_REQUIRE_CUDA AND NOT (TESSERA_WITH_CUDA AND TESSERA_WITH_NCCL))
  message(FATAL_ERROR "TESSERA_REQUIRE_CUDA: CUDA is ${TESSERA_WITH_CUDA}, NCCL is ${TESSERA_WITH_NCCL}. CUDA needs nvcc "
                      "on PATH and a CUDA build of torch; NCCL needs the wheel's nvidia-nccl (site-packages/nvidia/nccl).")
endif()

# --- MPI and the Debian libraries ---
find_package(MPI REQUIRED COMPONENTS C)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(cxxopts REQUIRED)
# Output files: PNG through libpng, MP4 (H.264) and GIF through FFmpeg's libraries. FFmpeg is optional (the GPU
# machine's bundle leaves its large dependency tree out): without it .mp4 and .gif are refused with the fix.
find_package(PNG REQUIRED)
# Input images: JPEG through libjpeg (Debian's libjpeg62-turbo, the libjpeg-turbo PIL decodes with).
find_package(JPEG REQUIRED)
find_package(PkgConfig)  # only FFmpeg is found through it, and FFmpeg is optional
if(PKG_CONFIG_FOUND)
  pkg_check_modules(AV IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
endif()
if(NOT AV_FOUND)
  message(WARNING "FFmpeg's libraries not found: building without .mp4/.gif output (scripts/setup.sh installs them)")
endif()
# The T5/UMT5 text encoders' tokenizer reads spiece.model with SentencePiece; their prompt cleaning normalizes
# Unicode (NFC, NFKC widths) with ICU.
find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h)
find_library(SENTENCEPIECE_LIBRARY sentencepiece)
if(NOT SENTENCEPIECE_INCLUDE_DIR OR NOT SENTENCEPIECE_LIBRARY)
  message(FATAL_ERROR "SentencePiece not found: install libsentencepiece-dev (scripts/setup.sh does)")
endif()
add_library(tessera_sentencepiece UNKNOWN IMPORTED)
set_target_properties(tessera_sentencepiece PROPERTIES IMPORTED_LOCATION "${SENTENCEPIECE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${SENTENCEPIECE_INCLUDE_DIR}")
find_package(ICU COMPONENTS uc)
if(NOT ICU_FOUND)
  message(FATAL_ERROR "ICU not found: install libicu-dev (scripts/setup.sh does)")
endif()
if(TESSERA_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TESSERA_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
