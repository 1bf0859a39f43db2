#include <ATen/ATen.h>

#include <numeric>

#include "common/check.h"
#include "kernels/all_to_all_pack.h"
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
  const int64_t batch = q.size(0), local = q.size(1), heads = q.size(2), head_dim = q.size(3);
  const int64_t group_length = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  // Ranks simply hold different numbers of heads when the group does not divide them; sequence shards need not
  // follow the shard_sizes rule (FLUX's text + image shards are sums of two cuts).
  const auto head_sizes = shard_sizes(heads, size);
  const int64_t own_heads = head_sizes[rank];

  // q, k, v packed by destination (its heads, all three), one exchange; unpacked into the group's whole sequence,
  // head-major ([batch, heads, seq, head_dim] in memory), so that each head's rows arrive packed as the CPU
  // attention kernel wants them (kernels/attention.cpp) instead of being copied there once more.
  const auto swap_seq_and_heads = [](const at::Tensor& t) { return t.transpose(1, 2); };
  std::vector<int64_t> send_counts(size), recv_counts(size);
  for (int r = 0; r < size; ++r) {
    send_counts[r] = 3 * batch * local * head_sizes[r] * head_dim;
    recv_counts[r] = 3 * batch * lengths[r] * own_heads * head_dim;
  }
  const at::Tensor send = all_to_all_pack({swap_seq_and_heads(q), swap_seq_and_heads(k), swap_seq_and_heads(v)}, 1,
                                          head_sizes);
  const at::Tensor received = group.all_to_all_single(send, send_counts, recv_counts);
  const at::Tensor head_sharded = all_to_all_unpack(received, 3, {batch, own_heads, group_length, head_dim}, 2, lengths);
  const AttentionResult result = inner(swap_seq_and_heads(head_sharded[0]), swap_seq_and_heads(head_sharded[1]),
                                       swap_seq_and_heads(head_sharded[2]), options);

  // Back: each rank's tokens of this rank's heads to it; received heads joined in head order.
  AttentionResult local_result;
  for (int r = 0; r < size; ++r) {
    send_counts[r] = batch * lengths[r] * own_heads * head_dim;
    recv_counts[r] = batch * local * head_sizes[r] * head_dim;
  }
  local_result.output = all_to_all_unpack(group.all_to_all_single(all_to_all_pack({result.output}, 1, lengths),
                                                                  send_counts, recv_counts),
                                          1, {batch, local, heads, head_dim}, 2, head_sizes)[0];
  if (options.need_lse) {  // [batch, heads, seq]: the same exchange with the sequence last
    for (int r = 0; r < size; ++r) {
      send_counts[r] = batch * own_heads * lengths[r];
      recv_counts[r] = batch * head_sizes[r] * local;
    }
    local_result.lse = all_to_all_unpack(group.all_to_all_single(all_to_all_pack({result.lse}, 2, lengths),
                                                                 send_counts, recv_counts),
                                         1, {batch, heads, local}, 1, head_sizes)[0];
  }
  return local_result;
}

}  // namespace tessera
