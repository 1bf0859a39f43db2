#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/distributed_attention.h"
#include "parallel/shard_sizes.h"

namespace tessera {
namespace {

// all_to_all cuts its scatter dim by the shard_sizes rule, which matches the ranks' shards only when they were
// cut by that rule too. A plan that splits two sequences separately (FLUX: text and image tokens) gives shards
// that are sums of two such cuts (4 + 18 and 3 + 17 of 42 tokens, not 21 and 21). Padding every rank's piece to
// the longest makes the rule's equal cuts fall on the ranks' boundaries; the receiver drops the padding.
at::Tensor pad_pieces_to(const at::Tensor& tensor, int64_t dim, const std::vector<int64_t>& sizes, int64_t longest) {
  std::vector<at::Tensor> pieces;
  int64_t offset = 0;
  for (const int64_t size : sizes) {
    std::vector<int64_t> padding(2 * (tensor.dim() - dim), 0);
    padding.back() = longest - size;  // constant_pad_nd lists the last dim first: dim's "after" pad comes last
    pieces.push_back(at::constant_pad_nd(tensor.narrow(dim, offset, size), padding));
    offset += size;
  }
  return at::cat(pieces, dim);
}

}  // namespace

AttentionResult ulysses_attention(Communicator& group, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const AttentionOptions& options, const AttentionImplementation& inner) {
  if (group.size() == 1) return inner(q, k, v, options);
  TESSERA_CHECK(q.sizes() == k.sizes() && k.sizes() == v.sizes(), "Ulysses attention needs q, k and v of one "
                "shape (self-attention over the split sequence), got ", q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  const std::vector<int64_t> sequence_sizes = group.all_gather_sizes(q.size(1));

  // [3, B, S_local, H, D] -> [3, B, S_group, H_rank, D]: heads scattered, sequence gathered, in one exchange.
  const at::Tensor head_sharded = group.all_to_all(at::stack({q, k, v}), 3, 2, sequence_sizes);
  AttentionResult result = inner(head_sharded[0], head_sharded[1], head_sharded[2], options);

  const auto head_sizes = shard_sizes(q.size(2), group.size());
  const int64_t gathered = result.output.size(1);
  const bool cut_by_rule = sequence_sizes == shard_sizes(gathered, group.size());
  const int64_t longest = *std::max_element(sequence_sizes.begin(), sequence_sizes.end());
  // Back to this rank's tokens with every head: the sequence scattered, the heads gathered.
  auto to_sequence_shard = [&](const at::Tensor& tensor, int64_t sequence_dim, int64_t head_dim) {
    if (cut_by_rule) return group.all_to_all(tensor, sequence_dim, head_dim, head_sizes);
    const at::Tensor padded = pad_pieces_to(tensor, sequence_dim, sequence_sizes, longest);
    return group.all_to_all(padded, sequence_dim, head_dim, head_sizes).narrow(sequence_dim, 0, q.size(1));
  };
  AttentionResult local;
  local.output = to_sequence_shard(result.output, 1, 2);
  TESSERA_INTERNAL_ASSERT(local.output.size(1) == q.size(1), "Ulysses returned ", local.output.size(1),
                          " tokens for a shard of ", q.size(1));
  if (options.need_lse) local.lse = to_sequence_shard(result.lse, 2, 1);
  return local;
}

}  // namespace tessera
