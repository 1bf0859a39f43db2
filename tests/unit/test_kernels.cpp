// Every kernel against its plain reference on awkward shapes (odd sequence lengths, one head, head dims
// that are not powers of two), in the spirit of llama.cpp's test-backend-ops.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <tuple>

#include "kernels/attention.h"
#include "kernels/rotary.h"
#include "tests/relative_error.h"

using tessera::testing::relative_error;

namespace tessera {
namespace {

class AttentionShapes : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>> {};

TEST_P(AttentionShapes, FusedMatchesMathWithLogSumExp) {
  const auto [batch, seq_q, seq_kv, heads, head_dim] = GetParam();
  at::manual_seed(seq_q * 31 + seq_kv);
  const auto q = at::randn({batch, seq_q, heads, head_dim});
  const auto k = at::randn({batch, seq_kv, heads, head_dim});
  const auto v = at::randn({batch, seq_kv, heads, head_dim});
  AttentionOptions fused;
  fused.need_lse = true;
  AttentionOptions math = fused;
  math.backend = AttentionBackend::math;
  const auto a = attention(q, k, v, fused), b = attention(q, k, v, math);
  ASSERT_EQ(a.output.sizes(), q.sizes());
  ASSERT_EQ(a.lse.sizes(), (at::IntArrayRef{batch, heads, seq_q}));
  EXPECT_LT(relative_error(a.output, b.output), 1e-5);
  EXPECT_LT(relative_error(a.lse, b.lse), 1e-5);
  // The log-sum-exp is what it claims to be: log of the softmax denominator.
  const auto scores = at::einsum("bqhd,bkhd->bhqk", {q, k}) / std::sqrt(static_cast<double>(head_dim));
  EXPECT_LT(relative_error(b.lse, at::logsumexp(scores, -1)), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Awkward, AttentionShapes,
                         ::testing::Values(std::make_tuple(1, 1, 1, 1, 8), std::make_tuple(1, 45, 45, 2, 12),
                                           std::make_tuple(2, 27, 5, 3, 10), std::make_tuple(1, 17, 63, 1, 14),
                                           std::make_tuple(3, 9, 130, 5, 6),
                                           // Across ATen's CPU blocks (up to 256 queries x 512 keys): a partial last
                                           // block of each, one key block exactly, one query against many keys.
                                           std::make_tuple(1, 300, 1100, 2, 64), std::make_tuple(2, 129, 512, 3, 72),
                                           std::make_tuple(1, 1, 600, 1, 128), std::make_tuple(1, 257, 33, 2, 128)));

// The models hand attention views of a fused projection (rows strided by more than heads x head_dim), scores of
// large magnitude (the running maximum's rescaling matters), a caller's own scale, and a q strided along head_dim.
TEST(Attention, FusedOnStridedViewsLargeScoresAndScale) {
  at::manual_seed(3);
  const int64_t batch = 2, seq = 700, heads = 3, head_dim = 40;
  const auto qkv = at::randn({batch, seq, 3, heads, head_dim}) * 4;
  const auto q = qkv.select(2, 0), k = qkv.select(2, 1), v = qkv.select(2, 2);
  for (const double scale : {0.05, 1.0}) {
    // In fp64: at scale 1 the scores reach ~400, where fp32's own rounding of them is ~1e-5 of the output.
    const auto scores = at::einsum("bqhd,bkhd->bhqk", {q.to(at::kDouble), k.to(at::kDouble)}) * scale;
    const auto expected_lse = at::logsumexp(scores, -1);
    const auto expected = at::einsum("bhqk,bkhd->bqhd", {at::softmax(scores, -1), v.to(at::kDouble)});
    AttentionOptions options;
    options.need_lse = true;
    options.scale = scale;
    const auto result = attention(q, k, v, options);
    EXPECT_LT(relative_error(result.output, expected), 3e-5) << "scale " << scale;
    EXPECT_LT(relative_error(result.lse, expected_lse), 1e-6) << "scale " << scale;
  }
  // ATen's CPU kernel returns values ~1e33 for this q; attention() hands it packed rows.
  const auto q_strided = at::randn({1, 5, 2, 16}).transpose(-1, -2).contiguous().transpose(-1, -2);
  const auto kv = at::randn({1, 9, 2, 16});
  AttentionOptions math;
  math.backend = AttentionBackend::math;
  EXPECT_LT(relative_error(attention(q_strided, kv, kv).output, attention(q_strided, kv, kv, math).output), 1e-5);
}

TEST(Attention, RejectsMismatchedShapes) {
  const auto q = at::randn({1, 4, 2, 8});
  EXPECT_ANY_THROW(attention(q, at::randn({1, 4, 3, 8}), at::randn({1, 4, 3, 8})));
  EXPECT_ANY_THROW(attention(q.flatten(2), q, q));
}

// The rotary embedding against a literal loop over the interleaved pairs.
TEST(Rotary, MatchesPairwiseLoop) {
  for (const int64_t head_dim : {2, 10, 14}) {
    const int64_t seq = 7, heads = 3;
    const auto x = at::randn({2, seq, heads, head_dim});
    const auto cos = at::randn({1, seq, 1, head_dim}), sin = at::randn({1, seq, 1, head_dim});
    const auto actual = apply_rotary_embedding(x, cos, sin);
    auto expected = at::empty_like(x);
    auto xa = x.accessor<float, 4>();
    auto ca = cos.accessor<float, 4>(), sa = sin.accessor<float, 4>();
    auto ea = expected.accessor<float, 4>();
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t s = 0; s < seq; ++s)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = 0; i < head_dim; i += 2) {
            const float even = xa[b][s][h][i], odd = xa[b][s][h][i + 1];
            ea[b][s][h][i] = even * ca[0][s][0][i] - odd * sa[0][s][0][i + 1];
            ea[b][s][h][i + 1] = even * sa[0][s][0][i + 1] + odd * ca[0][s][0][i];
          }
    EXPECT_LT(relative_error(actual, expected), 1e-6) << "head_dim " << head_dim;
  }
  EXPECT_EQ(apply_rotary_embedding(at::randn({1, 2, 1, 4}, at::kBFloat16), at::randn({1, 2, 1, 4}),
                                   at::randn({1, 2, 1, 4}))
                .scalar_type(),
            at::kBFloat16);
}

}  // namespace
}  // namespace tessera
