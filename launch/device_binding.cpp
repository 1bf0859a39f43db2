#include "launch/device_binding.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <algorithm>
#include <thread>

#include "common/check.h"
#include "parallel/mpi_runtime.h"

namespace tessera {

void check_device_flags(const std::string& device, std::optional<int> threads) {
  TESSERA_CHECK(device == "auto" || device == "cpu" || device == "cuda", "unknown device '", device,
                "'; use --device auto, cpu or cuda");
  TESSERA_CHECK(!threads || *threads >= 1, "--threads must be at least 1, got ", *threads,
                "; leave it out for cores / ranks on this node");
}

DeviceBinding bind_device(const MpiRuntime& runtime, const std::string& device, std::optional<int> threads,
                          bool allow_tf32) {
  check_device_flags(device, threads);
  const int visible = at::globalContext().hasCUDA() ? at::detail::getCUDAHooks().deviceCount() : 0;
  TESSERA_CHECK(device != "cuda" || visible > 0, "--device cuda, but no CUDA device is visible on rank ",
                runtime.world_rank(), "; use --device cpu");
  DeviceBinding binding;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  binding.threads = threads.value_or(std::max(1, cores / std::max(1, runtime.local_size())));
  at::set_num_threads(binding.threads);
  if (device != "cpu" && visible > 0) {
    binding.cuda = true;
    binding.cuda_index = runtime.local_rank() % visible;
    binding.visible_cuda_devices = visible;
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)
        ->setDevice(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(binding.cuda_index)));
    // torch enables TF32 for cuDNN by default; fp32 parity needs it off for both.
    at::globalContext().setAllowTF32CuBLAS(allow_tf32);
    at::globalContext().setAllowTF32CuDNN(allow_tf32);
    binding.description = detail::concat("cuda:", binding.cuda_index, " (", visible, " visible, local rank ",
                                         runtime.local_rank(), allow_tf32 ? ", TF32 allowed" : "", ")");
  } else {
    binding.description = detail::concat("cpu, ", binding.threads, " threads (local rank ", runtime.local_rank(),
                                         " of ", runtime.local_size(), ")");
  }
  binding.placement = {.cuda_device = binding.cuda ? binding.cuda_index : -1,
                       .gpu = binding.cuda ? gpu_identity(binding.cuda_index) : std::string()};
  return binding;
}

}  // namespace tessera
