// PackedLinearWeight (a Linear's fp32 CPU product through a weight packed once) against at::linear on awkward
// shapes, and against stale packs: a new row count, a weight written in place or replaced, autograd, other dtypes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "kernels/packed_linear.h"
#include "src/models/layers.h"

namespace tessera {
namespace {

// The largest difference from the product in fp64, relative to its scale (|bias| + the sum of |x| |w| over k),
// in units of fp32 eps: the packed product sums in another order than at::linear, never less accurately.
double scaled_error(const at::Tensor& result, const at::Tensor& x, const at::Tensor& weight,
                    const at::Tensor& bias) {
  const at::Tensor x64 = x.to(at::kDouble), w64 = weight.to(at::kDouble);
  const at::Tensor exact = at::linear(x64, w64, bias.defined() ? bias.to(at::kDouble) : at::Tensor());
  const at::Tensor scale =
      at::clamp_min(at::linear(x64.abs(), w64.abs(), bias.defined() ? bias.to(at::kDouble).abs() : at::Tensor()), 1e-30);
  return ((result.to(at::kDouble) - exact).abs() / scale).max().item<double>() / 1.1920929e-7;
}

struct Shape {
  std::vector<int64_t> x;  // input shape, its last dim the weight's in-features
  int64_t out;
  bool bias;
};

class PackedLinearShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(PackedLinearShapes, MatchesTheReferenceOnceAndWhilePacked) {
  const Shape shape = GetParam();
  at::manual_seed(7);
  const at::Tensor x = at::randn(shape.x), weight = at::randn({shape.out, shape.x.back()});
  const at::Tensor bias = shape.bias ? at::randn({shape.out}) : at::Tensor();
  PackedLinearWeight packed;
  const at::Tensor reference = packed_linear_reference(x, weight, bias);
  for (int call = 0; call < 3; ++call) {
    const at::Tensor result = packed.linear(x, weight, bias);
    ASSERT_EQ(result.sizes(), reference.sizes());
    EXPECT_LE(scaled_error(result, x, weight, bias), 16.0) << "call " << call;
    EXPECT_LE(scaled_error(result, x, weight, bias), scaled_error(reference, x, weight, bias) + 8.0);
    // The first call only notes the weight and the row count; the second packs.
    EXPECT_EQ(packed.packed(), PackedLinearWeight::available() && call > 0) << "call " << call;
  }
}

INSTANTIATE_TEST_SUITE_P(Awkward, PackedLinearShapes,
                         ::testing::Values(Shape{{33, 70}, 45, true},        // just above the least rows packed
                                           Shape{{2, 37, 70}, 129, false},   // 3-D input, no bias
                                           Shape{{1, 300, 257}, 1, true},    // one output feature
                                           Shape{{96, 1}, 17, true},         // one input feature
                                           Shape{{5, 13, 64}, 200, true}));  // rows from two leading dims

TEST(PackedLinear, NonContiguousInputMatchesTheReference) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({70, 40}).t(), weight = at::randn({24, 70}), bias = at::randn({24});
  PackedLinearWeight packed;
  for (int call = 0; call < 2; ++call) {
    EXPECT_LE(scaled_error(packed.linear(x, weight, bias), x, weight, bias), 16.0);
  }
}

// A pack is for one weight's values at one row count: anything that changes either drops it, and the product
// follows the new weight at once.
TEST(PackedLinear, FollowsTheWeightAndTheRowCount) {
  if (!PackedLinearWeight::available()) GTEST_SKIP() << "this torch has no MKL GEMM packing ops";
  at::manual_seed(11);
  at::Tensor weight = at::randn({48, 64});
  const at::Tensor bias = at::randn({48}), x = at::randn({40, 64}), longer = at::randn({56, 64});
  PackedLinearWeight packed;
  packed.linear(x, weight, bias);
  packed.linear(x, weight, bias);
  ASSERT_TRUE(packed.packed());

  packed.linear(longer, weight, bias);  // another row count: the plain product, no pack
  EXPECT_FALSE(packed.packed());
  packed.linear(longer, weight, bias);
  EXPECT_TRUE(packed.packed());

  weight.mul_(-2);  // written in place (a LoRA fused into it)
  const at::Tensor after_write = packed.linear(longer, weight, bias);
  EXPECT_FALSE(packed.packed());
  EXPECT_LE(scaled_error(after_write, longer, weight, bias), 16.0);

  packed.linear(longer, weight, bias);
  ASSERT_TRUE(packed.packed());
  const at::Tensor replaced = at::randn({48, 64});  // another tensor (layerwise casting, a gathered shard)
  EXPECT_LE(scaled_error(packed.linear(longer, replaced, bias), longer, replaced, bias), 16.0);
  EXPECT_FALSE(packed.packed());
}

TEST(PackedLinear, LeavesAutogradOtherDtypesAndFewRowsToTheReference) {
  at::manual_seed(5);
  const at::Tensor weight = at::randn({16, 32}), bias = at::randn({16}), x = at::randn({64, 32});
  PackedLinearWeight packed;
  const at::Tensor trained = weight.clone().requires_grad_(true);
  for (int call = 0; call < 2; ++call) packed.linear(x, trained, bias).sum().backward();
  EXPECT_FALSE(packed.packed());
  EXPECT_TRUE(trained.grad().defined());
  EXPECT_TRUE(at::allclose(trained.grad(), 2 * x.sum(0).expand({16, 32}), 1e-5, 1e-4));

  const at::Tensor x16 = x.to(at::kBFloat16), w16 = weight.to(at::kBFloat16);
  for (int call = 0; call < 2; ++call) EXPECT_TRUE(at::equal(packed.linear(x16, w16, {}), at::linear(x16, w16)));
  EXPECT_FALSE(packed.packed());

  const at::Tensor few = x.narrow(0, 0, 8);
  for (int call = 0; call < 2; ++call) {
    EXPECT_TRUE(at::equal(packed.linear(few, weight, bias), at::linear(few, weight, bias)));
  }
  EXPECT_FALSE(packed.packed());
}

// A model's Linear in a loop of forwards (no autograd, as a generation runs): packed from the second forward, the
// same product, and its pack freed by release_packed_weights (an expert being parked).
TEST(PackedLinear, ALinearPacksInALoopAndReleasesItsPack) {
  at::manual_seed(13);
  torch::nn::Module model;
  const auto linear = model.register_module("proj", std::make_shared<Linear>(64, 48));
  const at::Tensor x = at::randn({40, 64});
  at::NoGradGuard no_grad;
  for (int forward = 0; forward < 3; ++forward) {
    const at::Tensor y = linear->forward(x);
    EXPECT_LE(scaled_error(y, x, linear->weight(), linear->named_parameters()["bias"]), 16.0);
  }
  EXPECT_EQ(linear->packed_weight().packed(), PackedLinearWeight::available());
  release_packed_weights(model);
  EXPECT_FALSE(linear->packed_weight().packed());
}

}  // namespace
}  // namespace tessera
