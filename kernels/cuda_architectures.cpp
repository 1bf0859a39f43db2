#include "kernels/cuda_architectures.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/check.h"
#include "common/log.h"

#ifdef TESSERA_WITH_CUDA_KERNELS
#include <cuda_runtime_api.h>
#endif

namespace tessera {

std::vector<CudaArchitecture> parse_cuda_architectures(std::string_view list) {
  std::vector<CudaArchitecture> parsed;
  size_t begin = 0;
  while (begin <= list.size()) {
    const size_t end = std::min(list.find_first_of(";,", begin), list.size());
    const std::string entry(list.substr(begin, end - begin));
    begin = end + 1;
    if (entry.empty()) continue;
    const size_t dash = entry.find('-');
    const std::string number = entry.substr(0, dash);
    const std::string kind = dash == std::string::npos ? "" : entry.substr(dash + 1);
    TESSERA_CHECK(!number.empty() && number.find_first_not_of("0123456789") == std::string::npos &&
                      (kind.empty() || kind == "real" || kind == "virtual"),
                  "CUDA architecture '", entry, "' is not in CMake's syntax (e.g. 80-real, 90, 120-virtual)");
    parsed.push_back({.number = std::stoi(number), .binary = kind != "virtual", .ptx = kind != "real"});
  }
  return parsed;
}

bool cuda_architectures_cover(const std::vector<CudaArchitecture>& built, int capability) {
  for (const CudaArchitecture& architecture : built) {
    // Machine code for sm_XY runs on X.Z for Z >= Y only; PTX is compiled by the driver for newer GPUs too.
    if (architecture.binary && architecture.number / 10 == capability / 10 && architecture.number <= capability) {
      return true;
    }
    if (architecture.ptx && architecture.number <= capability) return true;
  }
  return false;
}

const std::vector<CudaArchitecture>& built_cuda_architectures() {
#ifdef TESSERA_CUDA_ARCHITECTURES
  static const std::vector<CudaArchitecture> built = parse_cuda_architectures(TESSERA_CUDA_ARCHITECTURES);
#else
  static const std::vector<CudaArchitecture> built;
#endif
  return built;
}

bool cuda_kernels_run_on(const c10::Device& device) {
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (!device.is_cuda()) return false;
  static std::mutex mutex;
  static std::unordered_map<int, bool> answers;  // by device index
  int index = device.index();
  if (index < 0) TESSERA_CHECK(cudaGetDevice(&index) == cudaSuccess, "cudaGetDevice failed");
  const std::lock_guard lock(mutex);
  if (const auto found = answers.find(index); found != answers.end()) return found->second;
  int major = 0, minor = 0;
  TESSERA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index) == cudaSuccess &&
                    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, index) == cudaSuccess,
                "cannot read the compute capability of cuda:", index);
  const bool runs = cuda_architectures_cover(built_cuda_architectures(), major * 10 + minor);
  if (!runs) {
    TESSERA_LOG_WARN("cuda:", index, " has compute capability ", major, ".", minor,
                     ", which tessera's CUDA kernels were not built for; its ops run their ATen references "
                     "(rebuild with -DTESSERA_CUDA_ARCHITECTURES to include it)");
  }
  answers.emplace(index, runs);
  return runs;
#else
  (void)device;
  return false;
#endif
}

}  // namespace tessera
