#pragma once
#include <optional>
#include <string>

#include "parallel/world_communicator.h"

namespace tessera {

class MpiRuntime;

struct DeviceBinding {
  bool cuda = false;
  int cuda_index = -1;
  int visible_cuda_devices = 0;
  int threads = 1;
  RankPlacement placement;  // what the backend choice needs to know (device, the physical GPU behind it)
  std::string description;  // "cuda:0 (3 visible)" or "cpu, 2 threads"
};

// Throws tessera::Error for a --device other than auto, cpu or cuda, or --threads below 1. bind_device checks
// the same; the CLI calls this first, before any work, to report a usage error.
void check_device_flags(const std::string& device, std::optional<int> threads);

// Picks this rank's device from its node-local rank (cuda:local_rank % visible GPUs) and, on CPU, sets
// torch's intra-op threads to cores / ranks on this node (at least 1) so oversubscribed runs don't thrash.
// `device` is "auto", "cpu" or "cuda". On CUDA, fp32 matmuls and convolutions are exact fp32 (TF32 off, so
// fp32 parity holds) unless `allow_tf32` asks for speed.
DeviceBinding bind_device(const MpiRuntime& runtime, const std::string& device, std::optional<int> threads,
                          bool allow_tf32 = false);

}  // namespace tessera
