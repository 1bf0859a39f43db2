#include "launch/memory_check.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <mpi.h>

#include "common/check.h"
#include "common/host_memory.h"
#include "common/join.h"
#include "common/log.h"
#include "kernels/packed_linear.h"
#include "parallel/communicator.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_runtime.h"
#include "parallel/nccl_communicator.h"
#include "parallel/parallel_config.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera::cli {
namespace {

// Sizes are offered in multiples of this (every family's size multiple divides it).
constexpr int64_t kSizeStep = 16;

bool fits(const std::string& dir, const MemoryRequest& request, int64_t available) {
  return estimate_memory(dir, request).total() <= available;
}

// The options that would make `request` fit in `available`, as a person types them.
std::vector<std::string> what_fits(const std::string& dir, const MemoryRequest& request, int64_t available) {
  std::vector<std::string> options;
  for (int64_t ranks = request.context_parallel * 2; ranks <= 64; ranks *= 2) {
    MemoryRequest more = request;
    more.context_parallel = ranks;
    more.decode_ranks = ranks * (request.decode_ranks / request.context_parallel);
    if (fits(dir, more, available)) {
      options.push_back(detail::concat("context parallelism over ", ranks, " ranks (-np ", more.decode_ranks, ")"));
      break;
    }
  }
  if (request.dtype == c10::ScalarType::Float) {
    MemoryRequest half = request;
    half.dtype = c10::ScalarType::BFloat16;
    if (fits(dir, half, available)) options.emplace_back("--dtype bf16 instead of fp32");
  }
  MemoryRequest smaller = request;
  while (smaller.height > kSizeStep || smaller.width > kSizeStep) {
    smaller.height = std::max(kSizeStep, smaller.height / 2 / kSizeStep * kSizeStep);
    smaller.width = std::max(kSizeStep, smaller.width / 2 / kSizeStep * kSizeStep);
    if (fits(dir, smaller, available)) {
      options.push_back(detail::concat("a smaller size, e.g. --height ", smaller.height, " --width ", smaller.width));
      break;
    }
  }
  if (request.frames > 1) options.emplace_back("fewer --frames");
  return options;
}

// When the weights alone do not fit: --shard-weights where it would fit (at these ranks, or at twice as many), as
// an option; nothing where it would not.
std::optional<std::string> sharding_option(const std::string& dir, const MemoryRequest& request, int64_t available) {
  if (request.weight_shards > 1) return std::nullopt;
  for (const int64_t ranks : {request.decode_ranks, request.decode_ranks * 2}) {
    if (ranks < 2) continue;
    MemoryRequest sharded = request;
    sharded.weight_shards = ranks;
    sharded.context_parallel = request.context_parallel * (ranks / request.decode_ranks);
    sharded.decode_ranks = ranks;
    if (fits(dir, sharded, available)) {
      return detail::concat("--shard-weights", ranks == request.decode_ranks ? "" : " with -np ",
                            ranks == request.decode_ranks ? std::string() : std::to_string(ranks),
                            " (each rank keeps 1/N of the transformers' and text encoders' weights)");
    }
  }
  return std::nullopt;
}

AvailableMemory this_rank_memory(const DeviceBinding& binding, const MpiRuntime& runtime) {
  const int64_t local = std::max(1, runtime.local_size());
  if (binding.cuda) {
    // Ranks share the visible GPUs round-robin by their node-local rank (device_binding.h); count those on this
    // one. A rank that sees one GPU is taken to have it alone: CUDA_VISIBLE_DEVICES per rank, as Slurm sets it.
    const int64_t devices = binding.visible_cuda_devices;
    const int64_t sharing = devices <= 1 ? 1 : local / devices + (binding.cuda_index < local % devices ? 1 : 0);
    return {.bytes = cuda_free_bytes(binding.cuda_index) / std::max<int64_t>(1, sharing),
            .source = detail::concat("the free memory of cuda:", binding.cuda_index,
                                     sharing > 1 ? detail::concat(" over its ", sharing, " ranks") : std::string())};
  }
  return {.bytes = host_available_bytes() / local,
          .source = detail::concat("this host's MemAvailable over its ", local, " rank(s)")};
}

}  // namespace

AvailableMemory available_memory(const DeviceBinding& binding, const MpiRuntime& runtime) {
  AvailableMemory mine = this_rank_memory(binding, runtime);
  // Every rank must take the same decision, or the ranks that go on would wait for the ones that stopped.
  TESSERA_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &mine.bytes, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD));
  if (runtime.world_size() > 1) mine.source += " (the least of any rank)";
  return mine;
}

bool batched_guidance(GuidanceMode mode, const std::optional<std::string>& cache_spec) {
  if (mode == GuidanceMode::batch) return true;
  // As the loop decides (denoise_loop.h): automatic batches the branches under FasterCache.
  return mode == GuidanceMode::automatic && cache_spec && cache_spec->rfind("faster", 0) == 0;
}

void set_weight_storage(MemoryRequest& request, WeightStorage weights) {
  request.weight_element_bytes = weights == WeightStorage::full ? 0.0 : 1.0;
  request.weight_row_scale_bytes = weights == WeightStorage::fp8_scaled ? 4.0 : 0.0;
}

MemoryRequest memory_request(c10::ScalarType dtype, const ParallelConfig& config, bool batched_guidance,
                             const PipelineLoadOptions& load, c10::Device device) {
  MemoryRequest request{.dtype = dtype,
                        .context_parallel = config.context_parallel_degree(),
                        .decode_ranks = config.world_size(),
                        .forward_batch = batched_guidance && config.cfg == 1 ? 2 : 1,
                        .weight_shards = load.shard_group != nullptr ? load.shard_group->size() : 1,
                        .every_expert_on_device = !parks_off_device(load.idle_expert, device)};
  set_weight_storage(request, load.weights);
  request.packed_matrices = device.is_cpu() && dtype == c10::kFloat && request.weight_shards == 1 &&
                            load.weights == WeightStorage::full && PackedLinearWeight::available();
  return request;
}

std::optional<std::string> memory_refusal(const std::string& model_dir, const GenerationRequest& request,
                                          MemoryRequest shape, const AvailableMemory& available) {
  if (available.bytes <= 0 || !is_pipeline_dir(model_dir)) return std::nullopt;
  MemoryEstimate estimate;
  try {
    const GenerationDefaults defaults = Pipeline::defaults_of(read_pipeline_index(model_dir));
    shape.height = request.height.value_or(defaults.height);
    shape.width = request.width.value_or(defaults.width);
    shape.frames = request.frames.value_or(defaults.frames);
    // resolve() refuses these in its own words.
    if (shape.height < 1 || shape.width < 1 || shape.frames < 1) return std::nullopt;
    estimate = estimate_memory(model_dir, shape);
  } catch (const Error& error) {
    TESSERA_LOG_DEBUG("no memory check: ", error.what());
    return std::nullopt;
  }
  if (estimate.total() <= available.bytes) return std::nullopt;
  std::vector<std::string> options = what_fits(model_dir, shape, available.bytes);
  const bool weights_alone = estimate.weights > available.bytes;
  if (weights_alone) {
    if (auto sharding = sharding_option(model_dir, shape, available.bytes)) options.insert(options.begin(), *sharding);
  }
  // Where nothing fits, the weights alone may still shrink in one byte per element.
  const char* fp8_hint = weights_alone && shape.weight_element_bytes != 1
                             ? " (the weights alone do not fit: --weights fp8 stores a Wan or FLUX transformer's "
                               "linear layers in one byte)"
                             : (weights_alone ? " (the weights alone do not fit)" : "");
  return detail::concat(
      shape.frames, " frame(s) of ", shape.height, "x", shape.width, " need about ", format_bytes(estimate.total()),
      " per rank (weights ", format_bytes(estimate.weights), ", latents ", format_bytes(estimate.latents),
      ", activations ", format_bytes(estimate.activations), ", decode ", format_bytes(estimate.decode),
      "; docs/memory_estimate.md), but ", available.source, " is ", format_bytes(available.bytes), ". ",
      options.empty() ? detail::concat("Nothing tessera offers today fits", fp8_hint)
                      : detail::concat("What would fit: ", join(options, "; ")),
      ". Or pass --skip-memory-check to run it anyway");
}

}  // namespace tessera::cli
