// The fused CUDA kernels (kernels/*.cu) against their plain-ATen references run on the same CUDA tensors, on the
// awkward shapes the CPU kernels are tested on. Skips without a GPU or without the kernels built.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "../fused_kernel_cases.h"
#include "kernels/cuda_architectures.h"
#include "kernels/gated_residual.h"
#include "kernels/modulated_layer_norm.h"
#include "kernels/rotary.h"

namespace tessera::testing {
namespace {

const c10::Device kCuda(c10::kCUDA, 0);
constexpr double kEps = 1e-6;

struct CudaDtypeCase {
  c10::ScalarType dtype;
  c10::ScalarType parameter_dtype;  // scale/shift, gate, or cos/sin
  Rounding rounding;
};

class CudaKernels : public ::testing::TestWithParam<CudaDtypeCase> {
 protected:
  void SetUp() override {
#ifndef TESSERA_WITH_CUDA_KERNELS
    GTEST_SKIP() << "built without the CUDA kernels";
#endif
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
  }
  c10::InferenceMode inference_;
};

// Otherwise the comparisons below would compare the reference with itself: this GPU must be one the build covers.
TEST(CudaKernelsOnThisGpu, AreTakenRatherThanTheReferences) {
#ifndef TESSERA_WITH_CUDA_KERNELS
  GTEST_SKIP() << "built without the CUDA kernels";
#endif
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
  EXPECT_TRUE(cuda_kernels_run_on(kCuda)) << "this GPU's architecture is outside the build's list";
}

// The CUDA reference's layer_norm has statistics of its own too, hence the modulation tolerances of the CPU tests.
TEST_P(CudaKernels, ModulatedLayerNormMatchesReference) {
  const auto [dtype, parameter_dtype, rounding] = GetParam();
  for (const auto& [name, x, scale, shift] : modulation_cases(dtype, parameter_dtype, kCuda)) {
    EXPECT_TRUE(matches_reference(modulated_layer_norm(x, scale, shift, kEps, rounding),
                                  modulated_layer_norm_reference(x, scale, shift, kEps, rounding),
                                  modulation_tolerance(dtype), modulation_differing(dtype)))
        << name;
  }
}

// The kernel rounds each product apart from its sum as the reference's separate kernels do: exact.
TEST_P(CudaKernels, GatedResidualMatchesReferenceExactly) {
  const auto [dtype, gate_dtype, rounding] = GetParam();
  for (const auto& [name, residual, gate, y] : gated_residual_cases(dtype, gate_dtype, dtype, kCuda)) {
    EXPECT_TRUE(matches_reference(gated_residual(residual, gate, y, rounding),
                                  gated_residual_reference(residual, gate, y, rounding), 0, Differing::none))
        << name;
  }
}

TEST_P(CudaKernels, RotaryMatchesReferenceExactly) {
  const auto [dtype, frequency_dtype, rounding] = GetParam();
  if (rounding == Rounding::per_op) GTEST_SKIP() << "rotary has one rounding";
  for (const auto& [name, x, cos, sin] : rotary_cases(dtype, frequency_dtype, kCuda)) {
    EXPECT_TRUE(matches_reference(apply_rotary_embedding(x, cos, sin), apply_rotary_embedding_reference(x, cos, sin),
                                  0, Differing::none))
        << name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Dtypes, CudaKernels,
    ::testing::Values(CudaDtypeCase{at::kFloat, at::kFloat, Rounding::once},
                      CudaDtypeCase{at::kBFloat16, at::kFloat, Rounding::once},
                      CudaDtypeCase{at::kHalf, at::kFloat, Rounding::once},
                      CudaDtypeCase{at::kBFloat16, at::kBFloat16, Rounding::once},
                      CudaDtypeCase{at::kBFloat16, at::kBFloat16, Rounding::per_op},
                      CudaDtypeCase{at::kHalf, at::kHalf, Rounding::per_op}),
    [](const ::testing::TestParamInfo<CudaDtypeCase>& info) {
      return std::string(c10::toString(info.param.dtype)) + "_" + c10::toString(info.param.parameter_dtype) +
             (info.param.rounding == Rounding::once ? "_once" : "_per_op");
    });

}  // namespace
}  // namespace tessera::testing
