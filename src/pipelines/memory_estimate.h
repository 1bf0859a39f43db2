#pragma once
// The memory one rank needs for a generation, estimated from a pipeline folder's configs and safetensors headers
// alone (nothing is loaded or allocated), so a request that cannot fit is refused before it starts: the weights in
// the dtypes the parts are kept in, the denoising loop's latents, the transformer's largest working set for the
// rank's share of the tokens, and the decoder's band. docs/memory_estimate.md gives the formula and how each term
// was measured.
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct MemoryRequest {
  int64_t height = 0, width = 0, frames = 1;
  c10::ScalarType dtype = c10::ScalarType::Float;  // the pipeline's (the VAE stays in fp32)
  // Ranks that split one generation's tokens (Ulysses x Ring) and the rows of its decode (every rank of the
  // generation, CFG-parallel ones included).
  int64_t context_parallel = 1;
  int64_t decode_ranks = 1;
  // Samples in one transformer forward: 2 when the guidance branches run as one batch, else 1.
  int64_t forward_batch = 1;
  // The weight options: each rank keeps 1/weight_shards of the transformers' weights (--shard-weights: the
  // generation's ranks), plus the parameters outside the blocks and two blocks gathered whole while a forward runs;
  // each stored element of a transformer's matrices takes weight_element_bytes (0: the dtype's; --weights fp8 and
  // fp8-scaled: 1), each of their rows weight_row_scale_bytes more (fp8-scaled: 4, its fp32 scale per output channel).
  int64_t weight_shards = 1;
  double weight_element_bytes = 0;
  double weight_row_scale_bytes = 0;
  // Whether every transformer's weights stay on the device (--idle-expert resident). Otherwise a folder with two
  // experts (Wan2.2 A14B) holds only the running one there: the larger is counted.
  bool every_expert_on_device = false;
  // fp32 on the CPU with whole weights: each linear layer also keeps its matrix packed for MKL's GEMM
  // (kernels/packed_linear.h), so the transformers' matrices count twice.
  bool packed_matrices = false;
};

// Bytes per rank.
struct MemoryEstimate {
  int64_t weights = 0;      // every part a rank loads
  int64_t latents = 0;      // the loop's latents, noise, predictions and the scheduler's history
  int64_t activations = 0;  // the transformer's largest working set (attention or feed-forward of one block)
  int64_t decode = 0;       // the decoder's band of activations and the decoded frames
  // The transformer's activations are freed before the decode starts.
  int64_t total() const;
};

MemoryEstimate estimate_memory(const std::string& pipeline_dir, const MemoryRequest& request);

// "12.3 GiB", "45.6 MiB": bytes as a person reads them.
std::string format_bytes(int64_t bytes);

// The estimate at each of `ranks` (context parallel and decode over all of them), as a table for `tessera describe`.
// With `shard_weights`, each column's ranks share the transformers' weights (--shard-weights).
std::string memory_table(const std::string& pipeline_dir, MemoryRequest request, const std::vector<int64_t>& ranks,
                         bool shard_weights = false);

}  // namespace tessera
