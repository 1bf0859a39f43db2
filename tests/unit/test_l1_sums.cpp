// l1_sums (the cache metric's one-pass sums) against its plain-ATen reference on awkward shapes and dtypes.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <tuple>

#include "kernels/l1_sums.h"

namespace tessera {
namespace {

class L1SumsShapes : public ::testing::TestWithParam<std::tuple<std::vector<int64_t>, c10::ScalarType>> {};

TEST_P(L1SumsShapes, MatchesReference) {
  const auto& [shape, dtype] = GetParam();
  at::manual_seed(static_cast<uint64_t>(shape.size() * 7 + shape.back()));
  const at::Tensor previous = at::randn(shape).to(dtype);
  const at::Tensor current = (previous.to(at::kFloat) + 0.01 * at::randn(shape)).to(dtype);
  const at::Tensor fused = l1_sums(current, previous), reference = l1_sums_reference(current, previous);
  ASSERT_EQ(fused.scalar_type(), at::kDouble);
  ASSERT_EQ(fused.numel(), 2);
  for (int i = 0; i < 2; ++i) {
    const double expected = reference[i].item<double>();
    EXPECT_NEAR(fused[i].item<double>(), expected, 1e-12 * std::abs(expected)) << "sum " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, L1SumsShapes,
    ::testing::Combine(::testing::Values(std::vector<int64_t>{1}, std::vector<int64_t>{3}, std::vector<int64_t>{7, 33},
                                         std::vector<int64_t>{1, 16385, 3}, std::vector<int64_t>{2, 100, 1023}),
                       ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf, at::kDouble)));

TEST(L1Sums, NonContiguousInputsAndEmpty) {
  const at::Tensor a = at::randn({64, 48}).t(), b = at::randn({64, 48}).t();
  EXPECT_TRUE(at::allclose(l1_sums(a, b), l1_sums_reference(a, b), 1e-12, 0));
  const at::Tensor empty = at::empty({0, 5});
  EXPECT_EQ(l1_sums(empty, empty).sum().item<double>(), 0.0);
}

TEST(L1Sums, SameResultForAnyThreadCount) {
  const at::Tensor a = at::randn({5, 70001}), b = at::randn({5, 70001});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor one = l1_sums(a, b);
  at::set_num_threads(std::max(2, threads));
  const at::Tensor many = l1_sums(a, b);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, many));
}

TEST(L1Sums, RefusesMismatchedTensors) {
  EXPECT_THROW(l1_sums(at::zeros({3}), at::zeros({4})), std::exception);
  EXPECT_THROW(l1_sums(at::zeros({3}), at::zeros({3}, at::kDouble)), std::exception);
}

}  // namespace
}  // namespace tessera
