#pragma once
#include <optional>
#include <string>

namespace tessera {

class MpiRuntime;

struct DeviceBinding {
  bool cuda = false;
  int cuda_index = -1;
  int threads = 1;
  std::string description;  // "cuda:0 (3 visible)" or "cpu, 2 threads"
};

// Throws tessera::Error for a --device other than auto, cpu or cuda, or --threads below 1. bind_device checks
// the same; the CLI calls this first, before any work, to report a usage error.
void check_device_flags(const std::string& device, std::optional<int> threads);

// Picks this rank's device from its node-local rank (cuda:local_rank % visible GPUs) and, on CPU, sets
// torch's intra-op threads to cores / ranks on this node (at least 1) so oversubscribed runs don't thrash.
// `device` is "auto", "cpu" or "cuda".
DeviceBinding bind_device(const MpiRuntime& runtime, const std::string& device, std::optional<int> threads);

}  // namespace tessera
