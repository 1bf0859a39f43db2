#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "common/check.h"
#include "kernels/lse_merge.h"
#include "parallel/communicator.h"
#include "parallel/distributed_attention.h"

namespace tessera {
namespace {

// A hop's attention merged into the accumulators while the next hop's k, v travel. When the backend moves data
// only while polled (MPI), the queries are cut into pieces and the exchange is advanced between them; rows of
// attention are independent, so each piece merges into its own rows. A piece keeps at least kLeastPieceRows rows:
// ATen's CPU attention runs slower on fewer (4 pieces of 192 rows at 1536 tokens on 2 ranks cost 0.30 s of
// attention per step against 0.28 s whole, more than polling saved: docs/performance.md).
void attend_and_merge(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& options,
                      const at::Tensor& output, const at::Tensor& lse, PendingExchange* pending) {
  constexpr int64_t kMostPieces = 4, kLeastPieceRows = 1024;
  const int64_t rows = q.size(1);
  const bool poll = pending != nullptr && pending->needs_progress();
  const int64_t pieces = poll ? std::clamp<int64_t>(rows / kLeastPieceRows, 1, kMostPieces) : 1;
  for (int64_t piece = 0; piece < pieces; ++piece) {
    const int64_t begin = rows * piece / pieces, length = rows * (piece + 1) / pieces - begin;
    const AttentionResult part = local_attention(q.narrow(1, begin, length), k, v, options);
    lse_merge(output.narrow(1, begin, length), lse.narrow(2, begin, length), part.output, part.lse);
    if (poll) pending->progress();
  }
}

}  // namespace

AttentionResult ring_attention(Communicator& ring, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionOptions& options, const std::vector<int64_t>& sequence_lengths) {
  AttentionOptions partial_options = options;
  partial_options.need_lse = true;
  partial_options.sequence_parallel = false;
  if (ring.size() == 1) return local_attention(q, k, v, options);
  TESSERA_CHECK(k.dim() == 4 && k.sizes() == v.sizes(), "Ring attention needs k and v of one shape [batch, seq, "
                "heads, head_dim], got ", k.sizes(), " and ", v.sizes());
  const int size = ring.size(), rank = ring.rank();
  const std::vector<int64_t> length_of = sequence_lengths.empty() ? ring.all_gather_sizes(k.size(1)) : sequence_lengths;
  TESSERA_INTERNAL_ASSERT(length_of.size() == static_cast<size_t>(size) && length_of[rank] == k.size(1), "Ring on ",
                          ring.describe(), " was given sequence lengths ", c10::IntArrayRef(length_of),
                          " for a shard of ", k.size(1), " on rank ", rank);
  const int64_t longest = *std::max_element(length_of.begin(), length_of.end()), own = k.size(1);

  // k and v travel together, padded to the longest shard so every hop exchanges one shape (the padding, zeros,
  // is cut off before use), head-major ([2, batch, heads, seq, head_dim]): the CPU attention kernel wants each
  // head's rows packed (kernels/attention.cpp), so no hop copies them again. q likewise, once, on the CPU only (a
  // no-op for the rotary kernel's head-major q; the CUDA kernels take any strides).
  const auto as_sequence_major = [](const at::Tensor& heads_first) { return heads_first.transpose(-3, -2); };
  at::Tensor travelling = at::empty({2, k.size(0), k.size(2), longest, k.size(3)}, k.options());
  as_sequence_major(travelling[0]).narrow(1, 0, own).copy_(k);
  as_sequence_major(travelling[1]).narrow(1, 0, own).copy_(v);
  if (longest > own) travelling.narrow(3, own, longest - own).zero_();
  const at::Tensor q_packed = q.is_cpu() ? with_packed_head_rows(q) : q;
  // fp32 accumulators, merged into in place hop after hop.
  const auto float32 = q.options().dtype(at::kFloat);
  const at::Tensor output = at::zeros(q.sizes(), float32);
  const at::Tensor lse =
      at::full({q.size(0), q.size(2), q.size(1)}, -std::numeric_limits<float>::infinity(), float32);
  for (int hop = 0; hop < size; ++hop) {
    const int source = (rank - hop + size) % size;  // whose k, v this rank holds at this hop
    std::unique_ptr<PendingExchange> next;
    if (hop + 1 < size) next = ring.exchange_async(travelling, (rank + 1) % size, (rank - 1 + size) % size);
    const int64_t valid = length_of[source];
    if (valid > 0 && q.size(1) > 0) {
      attend_and_merge(q_packed, as_sequence_major(travelling[0]).narrow(1, 0, valid),
                       as_sequence_major(travelling[1]).narrow(1, 0, valid), partial_options, output, lse, next.get());
    }
    if (next) travelling = next->wait();
  }
  AttentionResult result;
  result.output = output.to(q.scalar_type());
  if (options.need_lse) result.lse = lse;
  return result;
}

}  // namespace tessera
