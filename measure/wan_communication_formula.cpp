#include "measure/wan_communication_formula.h"

#include <algorithm>

#include "common/check.h"
#include "parallel/exchange_records.h"
#include "parallel/shard_sizes.h"

namespace tessera {
namespace {

void add(CommunicationStats& stats, const std::string& operation, int64_t calls, int64_t bytes) {
  stats[operation].calls += calls;
  stats[operation].bytes_sent += bytes;
}

}  // namespace

std::vector<CommunicationStats> wan_forward_communication(const WanCommunicationShape& shape,
                                                          const ParallelConfig& config) {
  const int ulysses = config.ulysses, ring = config.ring, ranks = config.context_parallel_degree();
  TESSERA_INTERNAL_ASSERT(ulysses >= 1 && ring >= 1, "degrees must be positive");
  const auto shards = shard_sizes(shape.tokens, ranks);
  // The tokens of each Ulysses group (one Ring position): what Ring passes around after Ulysses gathered them.
  std::vector<int64_t> group_tokens(ring, 0);
  for (int position = 0; position < ranks; ++position) group_tokens[position / ulysses] += shards[position];
  const int64_t longest_group = *std::max_element(group_tokens.begin(), group_tokens.end());
  const auto head_shards = shard_sizes(shape.heads, ulysses);
  const int64_t e = shape.element_size, b = shape.batch, d = shape.head_dim, layers = shape.layers;
  // Wan's plan cuts the tokens and their rotary tables alike, so where a rank holds no token every sum of the cuts
  // is 0 there and no rank can name the sequence's lengths from them (SequenceLayout::lengths): every rank then
  // exchanges the lengths at each attention call (Ulysses and Ring alike) and the shapes at proj_out's gather.
  const bool lengths_exchanged = std::find(shards.begin(), shards.end(), 0) != shards.end();

  std::vector<CommunicationStats> per_rank(ranks);
  for (int position = 0; position < ranks; ++position) {
    const int ring_index = position / ulysses, ulysses_index = position % ulysses;
    const int64_t local = shards[position], own_heads = head_shards[ulysses_index];
    CommunicationStats& stats = per_rank[position];
    if (ulysses > 1) {
      // q, k, v stacked, every head but this rank's own; then the attention output back, every token but its own.
      const int64_t qkv = 3 * b * local * (shape.heads - own_heads) * d * e;
      const int64_t output = b * (group_tokens[ring_index] - local) * own_heads * d * e;
      add(stats, "all_to_all", 2 * layers, layers * (qkv + output));
    }
    if (ring > 1) {
      // k and v stacked, padded to the longest Ring shard, once per hop.
      add(stats, "exchange", layers * (ring - 1), layers * (ring - 1) * 2 * b * longest_group * own_heads * d * e);
    }
    if (ranks > 1) add(stats, "all_gather", 1, b * local * shape.output_width * e * (ranks - 1));
    if (lengths_exchanged) {
      for (const int degree : {ulysses, ring}) {
        if (degree > 1) add(stats, "all_gather", layers, layers * kLengthBytes * (degree - 1));
      }
      add(stats, "all_gather_shapes", 1, kShapeRecordBytes * (ranks - 1));
    }
  }
  return per_rank;
}

CommunicationStats guidance_combine_communication(int64_t prediction_bytes) {
  CommunicationStats stats;
  add(stats, "all_gather", 1, prediction_bytes);
  return stats;
}

CommunicationStats weight_gather_communication(const std::vector<WeightSlabSize>& slabs, int ranks, int rank) {
  CommunicationStats stats;
  if (ranks == 1) return stats;
  for (const WeightSlabSize& slab : slabs) {
    add(stats, "all_gather", 1, shard_sizes(slab.elements, ranks)[rank] * slab.element_size * (ranks - 1));
  }
  return stats;
}

int64_t weight_gather_received_bytes(const std::vector<WeightSlabSize>& slabs, int ranks, int rank) {
  int64_t bytes = 0;
  for (const WeightSlabSize& slab : slabs) {
    bytes += (slab.elements - shard_sizes(slab.elements, ranks)[rank]) * slab.element_size;
  }
  return bytes;
}

CommunicationStats repeated(const CommunicationStats& stats, int64_t times) {
  CommunicationStats result;
  for (const auto& [operation, entry] : stats) add(result, operation, entry.calls * times, entry.bytes_sent * times);
  return result;
}

int64_t total_bytes_sent(const CommunicationStats& stats) {
  int64_t total = 0;
  for (const auto& [operation, entry] : stats) total += entry.bytes_sent;
  return total;
}

}  // namespace tessera
