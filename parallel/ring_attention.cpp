#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/distributed_attention.h"

namespace tessera {
namespace {

// A hop's attention while the next hop's k, v travel. When the backend moves data only while polled (MPI),
// the queries are cut into pieces and the exchange is advanced between them; rows of attention are
// independent, so the result is the same.
AttentionResult attention_while_exchanging(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                           const AttentionOptions& options, PendingExchange* pending) {
  constexpr int64_t kPieces = 4;
  if (pending == nullptr || !pending->needs_progress() || q.size(1) < kPieces) {
    return local_attention(q, k, v, options);
  }
  std::vector<at::Tensor> outputs, lses;
  const int64_t rows = q.size(1);
  for (int64_t piece = 0; piece < kPieces; ++piece) {
    const int64_t begin = rows * piece / kPieces, end = rows * (piece + 1) / kPieces;
    const AttentionResult part = local_attention(q.narrow(1, begin, end - begin), k, v, options);
    outputs.push_back(part.output);
    lses.push_back(part.lse);
    pending->progress();
  }
  return {.output = at::cat(outputs, 1), .lse = options.need_lse ? at::cat(lses, 2) : at::Tensor()};
}

}  // namespace

AttentionResult ring_attention(Communicator& ring, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionOptions& options) {
  AttentionOptions partial_options = options;
  partial_options.need_lse = true;
  partial_options.sequence_parallel = false;
  if (ring.size() == 1) return local_attention(q, k, v, options);
  TESSERA_CHECK(k.sizes() == v.sizes(), "Ring attention needs k and v of one shape, got ", k.sizes(), " and ",
                v.sizes());
  const int size = ring.size(), rank = ring.rank();
  const std::vector<int64_t> length_of = ring.all_gather_sizes(k.size(1));
  const int64_t longest = *std::max_element(length_of.begin(), length_of.end());

  // k and v travel together, padded to the longest shard so every hop exchanges one shape.
  at::Tensor travelling = at::constant_pad_nd(at::stack({k, v}), {0, 0, 0, 0, 0, longest - k.size(1)});
  const auto float32 = q.options().dtype(at::kFloat);
  at::Tensor output = at::zeros(q.sizes(), float32);
  at::Tensor lse = at::full({q.size(0), q.size(2), q.size(1)}, -std::numeric_limits<float>::infinity(), float32);
  for (int hop = 0; hop < size; ++hop) {
    const int source = (rank - hop + size) % size;  // whose k, v this rank holds at this hop
    std::unique_ptr<PendingExchange> next;
    if (hop + 1 < size) next = ring.exchange_async(travelling, (rank + 1) % size, (rank - 1 + size) % size);
    const int64_t valid = length_of[source];
    if (valid > 0 && q.size(1) > 0) {
      const AttentionResult part = attention_while_exchanging(q, travelling[0].narrow(1, 0, valid),
                                                              travelling[1].narrow(1, 0, valid), partial_options,
                                                              next.get());
      const at::Tensor merged_lse = at::logaddexp(lse, part.lse);
      // lse is [B, H, S]; outputs are [B, S, H, D].
      auto weight = [&](const at::Tensor& partial_lse) {
        return at::exp(partial_lse - merged_lse).transpose(1, 2).unsqueeze(-1);
      };
      output = output * weight(lse) + part.output.to(at::kFloat) * weight(part.lse);
      lse = merged_lse;
    }
    if (next) travelling = next->wait();
  }
  AttentionResult result;
  result.output = output.to(q.scalar_type());
  if (options.need_lse) result.lse = lse;
  return result;
}

}  // namespace tessera
