// PatchEmbedding3d (Wan's patch embedding as one product of the patches) against the convolution diffusers runs,
// at::conv3d with its stride set to the patch, flattened and transposed into tokens: patch shapes, trailing pixels
// that fill no patch, a batch, bf16, and the parameters a checkpoint loads.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "src/models/layers.h"

namespace tessera {
namespace {

struct PatchCase {
  std::vector<int64_t> input;  // [batch, channels, frames, height, width]
  std::array<int64_t, 3> patch;
  int64_t dim;
};

at::Tensor convolution_tokens(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              std::array<int64_t, 3> patch) {
  return at::conv3d(x, weight, bias, patch).flatten(2).transpose(1, 2);
}

class PatchEmbeddingShapes : public ::testing::TestWithParam<PatchCase> {};

TEST_P(PatchEmbeddingShapes, TokensEqualTheConvolutions) {
  const PatchCase c = GetParam();
  at::manual_seed(c.dim + c.patch[1]);
  PatchEmbedding3d embedding(c.input[1], c.dim, c.patch);
  auto parameters = embedding.named_parameters();
  const at::Tensor weight = parameters["weight"], bias = parameters["bias"];
  ASSERT_EQ(weight.sizes(), at::IntArrayRef({c.dim, c.input[1], c.patch[0], c.patch[1], c.patch[2]}));
  ASSERT_EQ(bias.sizes(), at::IntArrayRef({c.dim}));
  const at::Tensor x = at::randn(c.input);
  const at::Tensor tokens = embedding.forward(x), expected = convolution_tokens(x, weight, bias, c.patch);
  ASSERT_EQ(tokens.sizes(), expected.sizes());
  EXPECT_TRUE(tokens.is_contiguous());
  EXPECT_TRUE(at::allclose(tokens, expected, 0, 1e-6 * expected.abs().max().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(
    Layers, PatchEmbeddingShapes,
    ::testing::Values(PatchCase{{1, 16, 6, 32, 32}, {1, 2, 2}, 64}, PatchCase{{2, 4, 5, 7, 9}, {1, 2, 2}, 24},
                      PatchCase{{1, 3, 5, 6, 8}, {2, 3, 3}, 7}, PatchCase{{1, 5, 1, 2, 2}, {1, 2, 2}, 1}));

TEST(PatchEmbedding, Bf16AsTheConvolutionInBf16) {
  at::manual_seed(3);
  PatchEmbedding3d embedding(4, 32, {1, 2, 2});
  embedding.to(at::kBFloat16);
  auto parameters = embedding.named_parameters();
  const at::Tensor x = at::randn({1, 4, 3, 8, 6}).to(at::kBFloat16);
  const at::Tensor tokens = embedding.forward(x);
  const at::Tensor expected = convolution_tokens(x.to(at::kFloat), parameters["weight"].to(at::kFloat),
                                                 parameters["bias"].to(at::kFloat), {1, 2, 2});
  EXPECT_EQ(tokens.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::allclose(tokens.to(at::kFloat), expected, 0, 1e-2 * expected.abs().max().item<double>()));
}

}  // namespace
}  // namespace tessera
