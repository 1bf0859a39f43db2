#include <ATen/ATen.h>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/distributed_attention.h"
#include "parallel/shard_sizes.h"

namespace tessera {

AttentionResult ulysses_attention(Communicator& group, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const AttentionOptions& options, const AttentionImplementation& inner,
                                  const std::vector<int64_t>& sequence_lengths) {
  if (group.size() == 1) return inner(q, k, v, options);
  TESSERA_CHECK(q.dim() == 4 && q.sizes() == k.sizes() && k.sizes() == v.sizes(), "Ulysses attention needs q, k "
                "and v of one shape [batch, seq, heads, head_dim] (self-attention over the split sequence), got ",
                q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  const int size = group.size(), rank = group.rank();
  const std::vector<int64_t> lengths = sequence_lengths.empty() ? group.all_gather_sizes(q.size(1)) : sequence_lengths;
  TESSERA_INTERNAL_ASSERT(lengths.size() == static_cast<size_t>(size) && lengths[rank] == q.size(1), "Ulysses on ",
                          group.describe(), " was given sequence lengths ", c10::IntArrayRef(lengths), " for a shard of ",
                          q.size(1), " on rank ", rank);
  // Ranks simply hold different numbers of heads when the group does not divide them; sequence shards need not
  // follow the shard_sizes rule (FLUX's text + image shards are sums of two cuts).
  const auto head_sizes = shard_sizes(q.size(2), size);

  // q, k, v by destination (its heads, all three), one exchange, received into the group's whole sequence
  // head-major ([batch, heads, seq, head_dim] in memory), so that each head's rows arrive packed as the CPU
  // attention kernel wants them (kernels/attention.cpp) instead of being copied there once more.
  const auto swap_seq_and_heads = [](const at::Tensor& t) { return t.transpose(1, 2); };
  const at::Tensor head_sharded = group.all_to_all_chunks(
      {swap_seq_and_heads(q), swap_seq_and_heads(k), swap_seq_and_heads(v)}, 1, head_sizes, 2, lengths);
  const AttentionResult result = inner(swap_seq_and_heads(head_sharded[0]), swap_seq_and_heads(head_sharded[1]),
                                       swap_seq_and_heads(head_sharded[2]), options);

  // Back: each rank's tokens of this rank's heads to it; received heads joined in head order.
  AttentionResult local_result;
  local_result.output = group.all_to_all_chunks({result.output}, 1, lengths, 2, head_sizes)[0];
  if (options.need_lse) {  // [batch, heads, seq]: the same exchange with the sequence last
    local_result.lse = group.all_to_all_chunks({result.lse}, 2, lengths, 1, head_sizes)[0];
  }
  return local_result;
}

}  // namespace tessera
