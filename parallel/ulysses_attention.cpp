#include <ATen/ATen.h>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/distributed_attention.h"
#include "parallel/shard_sizes.h"

namespace tessera {

AttentionResult ulysses_attention(Communicator& group, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const AttentionOptions& options, const AttentionImplementation& inner) {
  if (group.size() == 1) return inner(q, k, v, options);
  TESSERA_CHECK(q.sizes() == k.sizes() && k.sizes() == v.sizes(), "Ulysses attention needs q, k and v of one "
                "shape (self-attention over the split sequence), got ", q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  const std::vector<int64_t> sequence_sizes = group.all_gather_sizes(q.size(1));

  // [3, B, S_local, H, D] -> [3, B, S_group, H_rank, D]: heads scattered, sequence gathered, in one exchange.
  const at::Tensor head_sharded = group.all_to_all(at::stack({q, k, v}), 3, 2, sequence_sizes);
  AttentionResult result = inner(head_sharded[0], head_sharded[1], head_sharded[2], options);

  // Back to this rank's tokens with every head. The sequence goes back in the ranks' own shard sizes, which
  // need not follow the shard_sizes rule (a plan that splits text and image tokens separately sums two cuts).
  const auto head_sizes = shard_sizes(q.size(2), group.size());
  AttentionResult local;
  local.output = group.all_to_all(result.output, 1, 2, head_sizes, sequence_sizes);
  TESSERA_INTERNAL_ASSERT(local.output.size(1) == q.size(1), "Ulysses returned ", local.output.size(1),
                          " tokens for a shard of ", q.size(1));
  if (options.need_lse) local.lse = group.all_to_all(result.lse, 2, 1, head_sizes, sequence_sizes);
  return local;
}

}  // namespace tessera
