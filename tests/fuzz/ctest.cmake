# Hooks tests/fuzz into the main build: the fuzz targets build with clang as an external project (into
# <build>/fuzz, on every build, a no-op when nothing changed), and ctest runs each for a few seconds (label
# "fuzz") from the committed seeds with a fixed seed; a crash, leak or sanitizer report fails the test.
# Without clang and libFuzzer one failing test says so, rather than the suite passing without them.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
set(TESSERA_FUZZ_SECONDS 5 CACHE STRING "How long ctest runs each fuzz target")

find_program(TESSERA_FUZZ_CXX NAMES clang++ clang++-14)
set(_libfuzzer "")
if(TESSERA_FUZZ_CXX)
  execute_process(COMMAND ${TESSERA_FUZZ_CXX} -print-file-name=libclang_rt.fuzzer-x86_64.a
                  OUTPUT_VARIABLE _libfuzzer OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

if(NOT EXISTS "${_libfuzzer}")
  add_test(NAME fuzz_toolchain_missing
           COMMAND sh -c "echo 'clang++ with libFuzzer not found; scripts/setup.sh installs clang and libclang-rt-dev'; exit 1")
  set_tests_properties(fuzz_toolchain_missing PROPERTIES LABELS fuzz)
  return()
endif()

include(ExternalProject)
set(_fuzz_build ${CMAKE_BINARY_DIR}/fuzz)
ExternalProject_Add(tessera_fuzzers
  SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}
  BINARY_DIR ${_fuzz_build}
  CMAKE_ARGS -DCMAKE_CXX_COMPILER=${TESSERA_FUZZ_CXX} -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE_PROGRAM}
             -DTESSERA_PYTHON=${TESSERA_PYTHON} -DTESSERA_WARNINGS_AS_ERRORS=${TESSERA_WARNINGS_AS_ERRORS}
  BUILD_ALWAYS ON   # it cannot see the sources it compiles from the repository; its own Ninja can
  INSTALL_COMMAND "")

foreach(target IN LISTS TESSERA_FUZZ_TARGETS)
  add_test(NAME fuzz_${target}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_fuzzer.sh ${_fuzz_build}/fuzz_${target} ${TESSERA_FUZZ_SECONDS}
                   ${CMAKE_CURRENT_LIST_DIR}/corpus/${target} ${_fuzz_build}/ctest/${target} -seed=1)
  set_tests_properties(fuzz_${target} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
