#pragma once
// Which GPUs tessera's CUDA kernels can run on. They are built for a list of architectures (CMake's syntax:
// "80-real" a binary, "90-virtual" PTX only, "120" both); a GPU outside it runs each op's ATen reference
// instead of failing at the first kernel launch.
#include <c10/core/Device.h>

#include <string_view>
#include <vector>

namespace tessera {

struct CudaArchitecture {
  int number = 0;       // major * 10 + minor: 86 for sm_86
  bool binary = false;  // machine code: runs on the same major at this minor or above
  bool ptx = false;     // PTX: the driver compiles it for any GPU of this capability or above
};

// Parses CMake's CUDA_ARCHITECTURES syntax ("75-real;90;120-virtual", or ',' between entries); throws on anything
// else.
std::vector<CudaArchitecture> parse_cuda_architectures(std::string_view list);

// Whether code built for `built` runs on a GPU of compute capability `capability` (major * 10 + minor).
bool cuda_architectures_cover(const std::vector<CudaArchitecture>& built, int capability);

// The architectures this tessera's kernels were built for; empty in a build without CUDA kernels.
const std::vector<CudaArchitecture>& built_cuda_architectures();

// Whether the CUDA kernels run on this CUDA device (asked of the device once, then remembered). False for a build
// without CUDA kernels, and for a GPU the build does not cover: the dispatch functions then take the reference.
bool cuda_kernels_run_on(const c10::Device& device);

}  // namespace tessera
