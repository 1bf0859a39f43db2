// rms_norm (Wan's and FLUX's q/k RMSNorm) against its reference, at::rms_norm, and against the norm in fp64: widths
// around the vector width, one row, strided rows, threads, and what runs the reference.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <vector>

#include "kernels/rms_norm.h"

namespace tessera {
namespace {

constexpr double kEps = 1e-6;

// Largest difference from the norm in fp64, in units of fp32 eps times the largest |result|.
double scaled_error(const at::Tensor& result, const at::Tensor& x, const at::Tensor& weight) {
  const at::Tensor x64 = x.to(at::kDouble);
  const at::Tensor exact = x64 * at::rsqrt(x64.pow(2).mean(-1, true) + kEps) * weight.to(at::kDouble);
  return (result.to(at::kDouble) - exact).abs().max().item<double>() / exact.abs().max().item<double>() / 1.1920929e-7;
}

class RmsNormShapes : public ::testing::TestWithParam<std::vector<int64_t>> {};

TEST_P(RmsNormShapes, AsAccurateAsTheReference) {
  const std::vector<int64_t>& shape = GetParam();
  at::manual_seed(static_cast<uint64_t>(shape.back() * 3 + shape.size()));
  const at::Tensor x = at::randn(shape) * 5, weight = at::randn({shape.back()});
  const at::Tensor fused = rms_norm(x, weight, kEps), reference = rms_norm_reference(x, weight, kEps);
  ASSERT_EQ(fused.sizes(), x.sizes());
  EXPECT_LE(scaled_error(fused, x, weight), scaled_error(reference, x, weight) + 4.0);
  EXPECT_TRUE(at::allclose(fused, reference, 0, 8 * 1.1920929e-7 * reference.abs().max().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(Kernels, RmsNormShapes,
                         ::testing::Values(std::vector<int64_t>{1}, std::vector<int64_t>{1, 7},
                                           std::vector<int64_t>{3, 8}, std::vector<int64_t>{2, 5, 33},
                                           std::vector<int64_t>{1, 300, 1023}, std::vector<int64_t>{2, 77, 1536},
                                           std::vector<int64_t>{1, 9, 4, 128}));

// Rows read through their strides (a transposed view, a slice of a wider tensor) give what their copies give.
TEST(RmsNorm, StridedRowsAsTheirCopies) {
  const at::Tensor weight = at::randn({24});
  const at::Tensor transposed = at::randn({24, 6, 5}).permute({1, 2, 0});
  EXPECT_TRUE(at::equal(rms_norm(transposed, weight, kEps), rms_norm(transposed.contiguous(), weight, kEps)));
  const at::Tensor slice = at::randn({4, 7, 48}).narrow(-1, 8, 24);
  EXPECT_TRUE(at::equal(rms_norm(slice, weight, kEps), rms_norm(slice.contiguous(), weight, kEps)));
}

// Each row is its own: the result does not depend on the thread count.
TEST(RmsNorm, SameWithOneThreadOrMany) {
  const at::Tensor x = at::randn({500, 129}), weight = at::randn({129});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor one = rms_norm(x, weight, kEps);
  at::set_num_threads(std::max(2, threads));
  const at::Tensor many = rms_norm(x, weight, kEps);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, many));
}

// Zero rows give zeros (eps keeps the inverse finite); other dtypes and recorded inputs run the reference; a weight
// of the wrong size is refused.
TEST(RmsNorm, EdgesAndWhatRunsTheReference) {
  const at::Tensor weight = at::randn({16});
  EXPECT_TRUE(at::equal(rms_norm(at::zeros({3, 16}), weight, kEps), at::zeros({3, 16})));
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf, at::kDouble}) {
    const at::Tensor x = at::randn({5, 16}).to(dtype), typed_weight = weight.to(dtype);
    EXPECT_TRUE(at::equal(rms_norm(x, typed_weight, kEps), rms_norm_reference(x, typed_weight, kEps))) << dtype;
  }
  const at::Tensor leaf = at::randn({2, 16}).requires_grad_();
  EXPECT_TRUE(rms_norm(leaf, weight, kEps).requires_grad());
  EXPECT_THROW(rms_norm(at::randn({2, 16}), at::randn({15}), kEps), std::exception);
}

}  // namespace
}  // namespace tessera
