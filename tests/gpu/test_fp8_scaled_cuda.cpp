// --weights fp8-scaled on a GPU with FP8 matmul (sm_89 and above): the at::_scaled_mm path against the ATen
// emulation of the same arithmetic (the activation quantised per token, FP8 products summed in fp32, both scale
// vectors on the sums) and against the dequantising reference, on awkward shapes (one token, token counts no tile
// divides, widths that are multiples of 16 but of no larger power of two), fp32 and bf16 compute. Skips without
// a GPU, and on a GPU whose _scaled_mm does not run (the reference is what runs there).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "src/models/fp8_scaled_linear.h"
#include "tests/relative_error.h"

namespace tessera::testing {
namespace {

const c10::Device kCuda(c10::kCUDA, 0);

struct Shape {
  int64_t tokens, in, out;
};

class CudaFp8Scaled : public ::testing::TestWithParam<Shape> {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
    if (!fp8_matmul_runs_on(kCuda)) GTEST_SKIP() << "no FP8 matmul on this GPU (compute capability below 8.9)";
  }
  c10::InferenceMode inference_;
};

TEST_P(CudaFp8Scaled, ScaledMmMatchesEmulationAndReference) {
  const auto [tokens, in, out] = GetParam();
  at::manual_seed(tokens + in + out);
  const auto on_gpu = at::TensorOptions().device(kCuda);
  at::Tensor weight = at::randn({out, in}, on_gpu) * at::logspace(-2, 1, out, 10.0, on_gpu).unsqueeze(1);
  weight[0].zero_();
  const Fp8Quantized q = quantize_fp8_rows(weight);
  for (const c10::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor x = (at::randn({tokens, in}, on_gpu) * 4).to(dtype), bias = at::randn({out}, on_gpu).to(dtype);
    ASSERT_EQ(fp8_matmul_path(x, q), Fp8MatmulPath::scaled_mm);
    const at::Tensor output = fp8_scaled_linear(x, q, bias, dtype, Fp8MatmulPath::scaled_mm);
    ASSERT_EQ(output.scalar_type(), dtype);
    const Fp8Quantized rows = quantize_fp8_rows(x);
    const at::Tensor emulated =
        (at::matmul(rows.values.to(at::kDouble), q.values.to(at::kDouble).t()) *
             rows.scale.to(at::kDouble).unsqueeze(1) * q.scale.to(at::kDouble).unsqueeze(0) +
         bias.to(at::kDouble));
    // fp32 sums in another order; bf16 rounds the result once.
    EXPECT_LT(relative_error(output, emulated), dtype == at::kFloat ? 1e-5 : 1e-2) << dtype;
    const at::Tensor reference = fp8_scaled_linear(x, q, bias, dtype, Fp8MatmulPath::reference);
    EXPECT_LT(relative_error(output.to(at::kFloat), reference.to(at::kFloat)), 0.05) << dtype;
  }
}

INSTANTIATE_TEST_SUITE_P(AwkwardShapes, CudaFp8Scaled,
                         ::testing::Values(Shape{1, 16, 16}, Shape{7, 48, 80}, Shape{333, 1536, 1008},
                                           Shape{4097, 3072, 48}));

// Widths _scaled_mm cannot take go to the reference on the GPU too.
TEST(CudaFp8ScaledPath, AwkwardWidthsTakeTheReference) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
  const at::Tensor x = at::randn({5, 24}, at::device(kCuda));
  EXPECT_EQ(fp8_matmul_path(x, quantize_fp8_rows(at::randn({40, 24}, at::device(kCuda)))), Fp8MatmulPath::reference);
}

}  // namespace
}  // namespace tessera::testing
