// The context-parallel kernels against their plain-ATen references on awkward shapes: one token, odd heads and
// head dims, head chunks for three ranks (one of them empty), empty shards, -inf log-sum-exp rows, bf16 / fp16 /
// fp32, and views that are not contiguous.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "kernels/all_to_all_pack.h"
#include "kernels/attention.h"
#include "kernels/lse_merge.h"
#include "parallel/shard_sizes.h"
#include "tests/relative_error.h"

using tessera::testing::relative_error;

namespace tessera {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// ---- lse_merge ----

struct MergeCase {
  int64_t batch, seq, heads, head_dim;
  c10::ScalarType partial_dtype;
};

// Running accumulators and a partial result, with rows where one side, or both, has seen no key (-inf).
struct MergeInputs {
  at::Tensor output, lse, partial_output, partial_lse;
};

MergeInputs merge_inputs(const MergeCase& c) {
  at::manual_seed(c.seq * 131 + c.heads * 7 + c.head_dim);
  const auto float32 = at::TensorOptions().dtype(at::kFloat);
  MergeInputs in{.output = at::randn({c.batch, c.seq, c.heads, c.head_dim}, float32),
                 .lse = at::randn({c.batch, c.heads, c.seq}, float32) * 3,
                 .partial_output = at::randn({c.batch, c.seq, c.heads, c.head_dim}, float32).to(c.partial_dtype),
                 .partial_lse = at::randn({c.batch, c.heads, c.seq}, float32) * 3};
  if (c.seq > 0 && c.batch > 0) {
    // Position 0: the accumulator has seen nothing (its output is 0 then); the last position: neither side has;
    // the middle one: only the accumulator has.
    in.lse.select(2, 0).fill_(kMinusInfinity);
    in.output.select(1, 0).zero_();
    in.lse.select(2, c.seq - 1).fill_(kMinusInfinity);
    in.output.select(1, c.seq - 1).zero_();
    in.partial_lse.select(2, c.seq - 1).fill_(kMinusInfinity);
    in.partial_lse.select(2, c.seq / 2).fill_(c.seq / 2 == c.seq - 1 ? kMinusInfinity : -1e30f);
  }
  return in;
}

class LseMergeShapes : public ::testing::TestWithParam<MergeCase> {};

TEST_P(LseMergeShapes, KernelMatchesReference) {
  const MergeInputs in = merge_inputs(GetParam());
  const at::Tensor output = in.output.clone(), lse = in.lse.clone();
  const at::Tensor expected_output = in.output.clone(), expected_lse = in.lse.clone();
  lse_merge(output, lse, in.partial_output, in.partial_lse);
  lse_merge_reference(expected_output, expected_lse, in.partial_output, in.partial_lse);
  EXPECT_FALSE(output.isnan().any().item<bool>());
  EXPECT_FALSE(lse.isnan().any().item<bool>());
  if (output.numel() == 0) return;
  EXPECT_LT(relative_error(output, expected_output), 1e-6);
  EXPECT_TRUE(at::equal(lse.isinf(), expected_lse.isinf()));
  const at::Tensor finite = expected_lse.isfinite();
  if (finite.any().item<bool>()) {
    EXPECT_LT(relative_error(lse.masked_select(finite), expected_lse.masked_select(finite)), 1e-6);
  }
  // A row neither side has seen stays empty: output 0, lse -inf.
  const int64_t last = GetParam().seq - 1;
  EXPECT_TRUE(at::equal(output.select(1, last), at::zeros_like(output.select(1, last))));
  EXPECT_TRUE((lse.select(2, last) == kMinusInfinity).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Awkward, LseMergeShapes,
                         ::testing::Values(MergeCase{1, 1, 1, 1, at::kFloat}, MergeCase{2, 7, 3, 5, at::kFloat},
                                           MergeCase{1, 13, 5, 33, at::kBFloat16}, MergeCase{3, 4, 2, 12, at::kHalf},
                                           MergeCase{1, 9, 12, 128, at::kBFloat16}, MergeCase{1, 3, 1, 17, at::kHalf},
                                           MergeCase{2, 0, 3, 8, at::kFloat}, MergeCase{0, 5, 3, 8, at::kFloat}));

// Merging attention over two halves of the keys gives attention over all of them: what Ring relies on.
TEST(LseMerge, TwoHalvesOfTheKeysMakeTheWhole) {
  at::manual_seed(3);
  const auto q = at::randn({2, 11, 3, 10}), k = at::randn({2, 19, 3, 10}), v = at::randn({2, 19, 3, 10});
  AttentionOptions options;
  options.need_lse = true;
  options.backend = AttentionBackend::math;
  const AttentionResult whole = local_attention(q, k, v, options);
  const at::Tensor output = at::zeros(q.sizes()), lse = at::full({2, 3, 11}, kMinusInfinity);
  for (const auto& [begin, length] : {std::pair<int64_t, int64_t>{0, 8}, {8, 11}}) {
    const AttentionResult part = local_attention(q, k.narrow(1, begin, length), v.narrow(1, begin, length), options);
    lse_merge(output, lse, part.output, part.lse);
  }
  EXPECT_LT(relative_error(output, whole.output), 1e-5);
  EXPECT_LT(relative_error(lse, whole.lse), 1e-6);
}

// Accumulator views (a range of rows, as Ring's pieces merge), a transposed partial output and strided lse.
TEST(LseMerge, ViewsAndStridedInputs) {
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const MergeInputs in = merge_inputs({2, 10, 3, 7, at::kFloat});
    const at::Tensor output = in.output.clone(), lse = in.lse.clone();
    const at::Tensor expected_output = in.output.clone(), expected_lse = in.lse.clone();
    const at::Tensor partial = in.partial_output.narrow(1, 2, 5).transpose(1, 2).contiguous().transpose(1, 2).to(dtype);
    const at::Tensor partial_lse = in.partial_lse.narrow(2, 2, 5).transpose(0, 1).contiguous().transpose(0, 1);
    ASSERT_FALSE(partial_lse.is_contiguous());
    lse_merge(output.narrow(1, 3, 5), lse.narrow(2, 3, 5), partial, partial_lse);
    lse_merge_reference(expected_output.narrow(1, 3, 5), expected_lse.narrow(2, 3, 5), partial, partial_lse);
    EXPECT_LT(relative_error(output, expected_output), 1e-6);
    EXPECT_TRUE(at::equal(output.narrow(1, 0, 3), in.output.narrow(1, 0, 3))) << "rows outside the view changed";
    EXPECT_TRUE(at::equal(lse.isinf(), expected_lse.isinf()));
    // A head_dim that is not contiguous in the accumulator goes through the reference.
    const at::Tensor wide = in.output.clone().transpose(2, 3).contiguous().transpose(2, 3);
    const at::Tensor wide_expected = wide.clone(), wide_lse = in.lse.clone(), wide_lse_expected = in.lse.clone();
    lse_merge(wide, wide_lse, in.partial_output.to(dtype), in.partial_lse);
    lse_merge_reference(wide_expected, wide_lse_expected, in.partial_output.to(dtype), in.partial_lse);
    EXPECT_LT(relative_error(wide, wide_expected), 1e-6);
  }
}

TEST(LseMerge, RejectsWrongShapesAndTypes) {
  const at::Tensor output = at::zeros({1, 4, 2, 8}), lse = at::zeros({1, 2, 4});
  EXPECT_ANY_THROW(lse_merge(output.to(at::kBFloat16), lse, output, lse));
  EXPECT_ANY_THROW(lse_merge(output, lse.transpose(1, 2), output, lse));
  EXPECT_ANY_THROW(lse_merge(output, lse, output.narrow(1, 0, 3), lse));
  EXPECT_ANY_THROW(lse_merge(output, lse, output, lse.to(at::kHalf)));
}

// ---- all_to_all_pack / all_to_all_unpack ----

struct PackCase {
  std::vector<int64_t> shape;
  int64_t dim;
  std::vector<int64_t> chunks;
  int64_t count;
  c10::ScalarType dtype;
};

class PackShapes : public ::testing::TestWithParam<PackCase> {};

TEST_P(PackShapes, PackMatchesReferenceAndUnpackInvertsIt) {
  const PackCase c = GetParam();
  at::manual_seed(c.count * 17 + c.dim);
  std::vector<at::Tensor> inputs;
  for (int64_t i = 0; i < c.count; ++i) inputs.push_back(at::randn(c.shape).to(c.dtype));
  const at::Tensor packed = all_to_all_pack(inputs, c.dim, c.chunks);
  ASSERT_EQ(packed.dim(), 1);
  ASSERT_EQ(packed.scalar_type(), c.dtype);
  EXPECT_TRUE(at::equal(packed, all_to_all_pack_reference(inputs, c.dim, c.chunks)));
  const at::Tensor unpacked = all_to_all_unpack(packed, c.count, c.shape, c.dim, c.chunks);
  EXPECT_TRUE(at::equal(unpacked, all_to_all_unpack_reference(packed, c.count, c.shape, c.dim, c.chunks)));
  EXPECT_TRUE(at::equal(unpacked, at::stack(inputs)));
  EXPECT_TRUE(unpacked.is_contiguous());

  // Inputs that are not contiguous: every dim reversed in memory, a narrowed view of a wider tensor, and dims 1
  // and 2 swapped in memory (the attention's head-major output seen as [batch, seq, heads, head_dim]: rows made
  // of one run per head, or copied first where the runs are short).
  std::vector<at::Tensor> reversed, narrowed, swapped;
  for (const at::Tensor& input : inputs) {
    if (input.dim() >= 3) swapped.push_back(input.transpose(1, 2).contiguous().transpose(1, 2));
    std::vector<int64_t> backwards(input.dim());
    for (int64_t d = 0; d < input.dim(); ++d) backwards[d] = input.dim() - 1 - d;
    reversed.push_back(input.permute(backwards).contiguous().permute(backwards));
    narrowed.push_back(at::cat({input, input}, -1).narrow(-1, 0, input.size(-1)));
  }
  const auto wide_dims = std::count_if(c.shape.begin(), c.shape.end(), [](int64_t size) { return size > 1; });
  if (wide_dims > 1 && inputs[0].numel() > 0) {
    ASSERT_FALSE(reversed[0].is_contiguous());
  }
  EXPECT_TRUE(at::equal(all_to_all_pack(reversed, c.dim, c.chunks), packed));
  EXPECT_TRUE(at::equal(all_to_all_pack(narrowed, c.dim, c.chunks), packed));
  if (!swapped.empty()) {
    EXPECT_TRUE(at::equal(all_to_all_pack(swapped, c.dim, c.chunks), packed));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Awkward, PackShapes,
    ::testing::Values(
        // q, k, v [batch, seq, heads, head_dim] by heads: 5 heads over 3 ranks, 2 heads over 3 (one rank none).
        PackCase{{2, 7, 5, 9}, 2, {2, 2, 1}, 3, at::kFloat}, PackCase{{1, 1, 2, 12}, 2, {1, 1, 0}, 3, at::kBFloat16},
        PackCase{{1, 13, 3, 7}, 2, {1, 1, 1}, 3, at::kHalf},
        // The output back by sequence, uneven and with an empty shard; the log-sum-exp [batch, heads, seq].
        PackCase{{2, 9, 3, 5}, 1, {4, 0, 5}, 1, at::kFloat}, PackCase{{1, 23, 6, 128}, 1, {12, 11}, 1, at::kBFloat16},
        PackCase{{2, 9, 3, 16}, 1, {4, 0, 5}, 1, at::kFloat},
        PackCase{{3, 2, 11}, 2, {4, 4, 3}, 1, at::kFloat}, PackCase{{1, 5, 1}, 2, {0, 1}, 1, at::kFloat},
        // Leading dim, one rank, an empty tensor.
        PackCase{{6, 4}, 0, {3, 3}, 2, at::kHalf}, PackCase{{2, 3, 4}, 1, {3}, 2, at::kFloat},
        PackCase{{1, 0, 3, 4}, 2, {2, 1}, 3, at::kFloat}));

TEST(AllToAllPack, RejectsBadChunksAndMixedInputs) {
  const at::Tensor x = at::randn({1, 4, 3, 2});
  EXPECT_ANY_THROW(all_to_all_pack({x}, 2, {2, 2}));
  EXPECT_ANY_THROW(all_to_all_pack({x}, 2, {4, -1}));
  EXPECT_ANY_THROW(all_to_all_pack({x, x.to(at::kHalf)}, 2, {2, 1}));
  EXPECT_ANY_THROW(all_to_all_pack({x}, 4, {2, 1}));
  EXPECT_ANY_THROW(all_to_all_unpack(at::zeros({5}), 1, {1, 4, 3, 2}, 2, {2, 1}));
}

// Ulysses on three simulated ranks with uneven sequence shards: each packs its q, k, v by heads, the buffers are
// cut by destination as the all-to-all would, and each rank's unpacked tensors are its heads of the whole
// sequence; the output goes back the same way to each rank's tokens with every head.
TEST(AllToAllPack, UlyssesRoundTripOverThreeRanks) {
  const int ranks = 3;
  const int64_t batch = 2, heads = 5, head_dim = 6;
  const std::vector<int64_t> lengths{4, 0, 3};
  const auto head_sizes = shard_sizes(heads, ranks);
  const auto head_offsets = exclusive_prefix_sum(head_sizes), token_offsets = exclusive_prefix_sum(lengths);
  at::manual_seed(5);
  const at::Tensor q = at::randn({batch, 7, heads, head_dim}), k = at::randn_like(q), v = at::randn_like(q);

  std::vector<std::vector<at::Tensor>> sent(ranks);  // sent[source][destination]
  for (int source = 0; source < ranks; ++source) {
    auto shard = [&](const at::Tensor& t) { return t.narrow(1, token_offsets[source], lengths[source]); };
    const at::Tensor buffer = all_to_all_pack({shard(q), shard(k), shard(v)}, 2, head_sizes);
    int64_t offset = 0;
    for (int destination = 0; destination < ranks; ++destination) {
      const int64_t count = 3 * batch * lengths[source] * head_sizes[destination] * head_dim;
      sent[source].push_back(buffer.narrow(0, offset, count));
      offset += count;
    }
    ASSERT_EQ(offset, buffer.numel());
  }
  for (int rank = 0; rank < ranks; ++rank) {
    std::vector<at::Tensor> received;
    for (int source = 0; source < ranks; ++source) received.push_back(sent[source][rank]);
    const at::Tensor head_sharded =
        all_to_all_unpack(at::cat(received), 3, {batch, 7, head_sizes[rank], head_dim}, 1, lengths);
    auto heads_of = [&](const at::Tensor& t) { return t.narrow(2, head_offsets[rank], head_sizes[rank]); };
    EXPECT_TRUE(at::equal(head_sharded, at::stack({heads_of(q), heads_of(k), heads_of(v)})));
  }
  // Back: rank r holds its heads of every token and returns each rank its tokens.
  std::vector<std::vector<at::Tensor>> returned(ranks);
  for (int source = 0; source < ranks; ++source) {
    const at::Tensor buffer = all_to_all_pack({q.narrow(2, head_offsets[source], head_sizes[source])}, 1, lengths);
    int64_t offset = 0;
    for (int destination = 0; destination < ranks; ++destination) {
      const int64_t count = batch * lengths[destination] * head_sizes[source] * head_dim;
      returned[source].push_back(buffer.narrow(0, offset, count));
      offset += count;
    }
  }
  for (int rank = 0; rank < ranks; ++rank) {
    std::vector<at::Tensor> received;
    for (int source = 0; source < ranks; ++source) received.push_back(returned[source][rank]);
    const at::Tensor output =
        all_to_all_unpack(at::cat(received), 1, {batch, lengths[rank], heads, head_dim}, 2, head_sizes)[0];
    EXPECT_TRUE(at::equal(output, q.narrow(1, token_offsets[rank], lengths[rank])));
  }
}

}  // namespace
}  // namespace tessera
