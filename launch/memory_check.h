#pragma once
// Before a generation loads anything: its memory estimate per rank (src/pipelines/memory_estimate.h) against what
// this rank has, so a request that cannot fit is refused with the estimate and the options that would make it fit,
// instead of failing in an allocation.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>

#include "launch/device_binding.h"
#include "src/models/weight_storage.h"
#include "src/pipelines/denoise_loop.h"
#include "src/pipelines/generation_request.h"
#include "src/pipelines/memory_estimate.h"

namespace tessera {

class MpiRuntime;
struct ParallelConfig;
struct PipelineLoadOptions;

namespace cli {

// What this rank may use: its GPU's free memory shared by the ranks on that GPU, else the host's MemAvailable
// shared by the ranks on this host. bytes 0: unknown (nothing is checked).
struct AvailableMemory {
  int64_t bytes = 0;
  std::string source;  // "the free memory of cuda:0", "MemAvailable of this host over its 2 rank(s)"
};
// Collective: every rank calls it, and every rank gets the least of them all, so all take the same decision.
AvailableMemory available_memory(const DeviceBinding& binding, const MpiRuntime& runtime);

// Whether one forward carries both guidance branches (as the denoising loop decides).
bool batched_guidance(GuidanceMode mode, const std::optional<std::string>& cache_spec);

// The estimate's input that the command line fixes: the pipeline dtype, one generation's degrees, whether the
// guidance branches run as one batch (--cfg-mode batch, or auto with FasterCache, on one CFG rank), and how the
// pipeline will be loaded on `device` (where an idle expert waits, how the transformers store their weights).
MemoryRequest memory_request(c10::ScalarType dtype, const ParallelConfig& config, bool batched_guidance,
                             const PipelineLoadOptions& load, c10::Device device);

// The estimate's bytes per stored element and per row of a transformer's matrices under `weights`.
void set_weight_storage(MemoryRequest& request, WeightStorage weights);

// Why `request` (the sizes it leaves out: the folder's defaults) cannot run when it needs more per rank than
// `available`: the estimate and what would fit (more ranks, bf16, a smaller size); nullopt when it fits. Nothing is
// checked for a folder that is not a pipeline folder, one whose configs the estimate cannot read (loading reports
// what is wrong with them), or when the available memory is unknown.
std::optional<std::string> memory_refusal(const std::string& model_dir, const GenerationRequest& request,
                                          MemoryRequest shape, const AvailableMemory& available);

}  // namespace cli
}  // namespace tessera
