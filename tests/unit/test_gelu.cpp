// gelu_tanh_ (the feed-forwards' GELU in place) against its reference, at::gelu_(x, "tanh"), and against GELU in
// fp64: sizes around the vector width and the kernel's chunk (32768 values), threads, and what runs the reference.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "kernels/gelu.h"

namespace tessera {
namespace {

// The largest difference from GELU computed in fp64, in units of fp32 eps times max(1, |x|) (the scale of the result).
double scaled_error(const at::Tensor& result, const at::Tensor& x) {
  const at::Tensor exact = at::gelu(x.to(at::kDouble), "tanh");
  const at::Tensor scale = at::clamp_min(x.to(at::kDouble).abs(), 1.0);
  return ((result.to(at::kDouble) - exact).abs() / scale).max().item<double>() / 1.1920929e-7;
}

class GeluTanhSizes : public ::testing::TestWithParam<int64_t> {};

TEST_P(GeluTanhSizes, AsAccurateAsTheReference) {
  const int64_t count = GetParam();
  at::manual_seed(static_cast<uint64_t>(count));
  // Wide values: the tails (tanh at +-1, x^3 large) and the middle where GELU turns.
  const at::Tensor x = at::randn({count}) * 4;
  at::Tensor fused = x.clone(), reference = x.clone();
  gelu_tanh_(fused);
  gelu_tanh_reference_(reference);
  EXPECT_LE(scaled_error(fused, x), 8.0);
  EXPECT_LE(scaled_error(fused, x), scaled_error(reference, x) + 4.0);
  EXPECT_TRUE(at::allclose(fused, reference, 0, 1e-6 * std::max(1.0, x.abs().max().item<double>())));
}

INSTANTIATE_TEST_SUITE_P(Kernels, GeluTanhSizes, ::testing::Values(1, 7, 8, 33, 1023, 32767, 32768, 32769, 100001));

// Extreme values: no NaN where the reference has none, exact zeros and saturation where it saturates.
TEST(GeluTanh, ExtremeValuesLikeTheReference) {
  const at::Tensor x = at::tensor({0.f, -0.f, 1e-30f, -1e-30f, 30.f, -30.f, 1e4f, -1e4f, 3e38f, -3e38f, 1e-3f});
  at::Tensor fused = x.clone(), reference = x.clone();
  gelu_tanh_(fused);
  gelu_tanh_reference_(reference);
  EXPECT_TRUE(at::allclose(fused, reference, 1e-6, 1e-30, /*equal_nan=*/true)) << fused << reference;
  EXPECT_EQ(at::isnan(fused).sum().item<int64_t>(), at::isnan(reference).sum().item<int64_t>());
}

// The result does not depend on the thread count (each value is computed alone).
TEST(GeluTanh, SameWithOneThreadOrMany) {
  const at::Tensor x = at::randn({3, 50000});
  const int threads = at::get_num_threads();
  at::Tensor one = x.clone(), many = x.clone();
  at::set_num_threads(1);
  gelu_tanh_(one);
  at::set_num_threads(std::max(2, threads));
  gelu_tanh_(many);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, many));
}

// What the kernel does not take runs the reference: other dtypes, non-contiguous tensors, anything autograd records.
TEST(GeluTanh, OtherInputsRunTheReference) {
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf, at::kDouble}) {
    const at::Tensor x = at::randn({5, 40}).to(dtype);
    at::Tensor fused = x.clone(), reference = x.clone();
    EXPECT_TRUE(at::equal(gelu_tanh_(fused), gelu_tanh_reference_(reference))) << dtype;
  }
  const at::Tensor strided = at::randn({40, 5});
  at::Tensor fused = strided.clone().t(), reference = strided.clone().t();
  EXPECT_TRUE(at::equal(gelu_tanh_(fused), gelu_tanh_reference_(reference)));
  at::Tensor leaf = at::randn({4}).requires_grad_();
  at::Tensor recorded = leaf * 1.0;
  EXPECT_TRUE(gelu_tanh_(recorded).requires_grad());
}

}  // namespace
}  // namespace tessera
