// The fused CPU kernels (kernels/modulated_layer_norm, gated_residual, rotary) against their plain-ATen
// references on awkward shapes, in fp32, bf16 and half, with both roundings.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "../fused_kernel_cases.h"
#include "kernels/gated_residual.h"
#include "kernels/modulated_layer_norm.h"
#include "kernels/rotary.h"
#include "tests/parity/parity_check.h"

namespace tessera::testing {
namespace {

const c10::Device kCpu(c10::kCPU);
constexpr double kEps = 1e-6;

struct DtypeCase {
  c10::ScalarType dtype;
  c10::ScalarType parameter_dtype;  // scale/shift, gate, or cos/sin
  Rounding rounding;
};

std::string describe(const ::testing::TestParamInfo<DtypeCase>& info) {
  return std::string(c10::toString(info.param.dtype)) + "_" + c10::toString(info.param.parameter_dtype) +
         (info.param.rounding == Rounding::once ? "_once" : "_per_op");
}

// Wan: x in the model's dtype, fp32 tables, rounded once; FLUX: everything in the dtype, rounded per op.
const auto kModulationDtypes = ::testing::Values(
    DtypeCase{at::kFloat, at::kFloat, Rounding::once}, DtypeCase{at::kBFloat16, at::kFloat, Rounding::once},
    DtypeCase{at::kHalf, at::kFloat, Rounding::once}, DtypeCase{at::kBFloat16, at::kBFloat16, Rounding::once},
    DtypeCase{at::kFloat, at::kFloat, Rounding::per_op}, DtypeCase{at::kBFloat16, at::kBFloat16, Rounding::per_op},
    DtypeCase{at::kHalf, at::kHalf, Rounding::per_op});

class ModulatedLayerNorm : public ::testing::TestWithParam<DtypeCase> {};

TEST_P(ModulatedLayerNorm, MatchesReference) {
  const auto [dtype, parameter_dtype, rounding] = GetParam();
  for (const auto& [name, x, scale, shift] : modulation_cases(dtype, parameter_dtype, kCpu)) {
    EXPECT_TRUE(matches_reference(modulated_layer_norm(x, scale, shift, kEps, rounding),
                                  modulated_layer_norm_reference(x, scale, shift, kEps, rounding),
                                  modulation_tolerance(dtype), modulation_differing(dtype)))
        << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ModulatedLayerNorm, kModulationDtypes, describe);

class GatedResidual : public ::testing::TestWithParam<DtypeCase> {};

// The kernel does the reference's fp32 operations in its order, so every element agrees exactly.
TEST_P(GatedResidual, MatchesReferenceExactly) {
  const auto [dtype, gate_dtype, rounding] = GetParam();
  for (const auto& [name, residual, gate, y] : gated_residual_cases(dtype, gate_dtype, dtype, kCpu)) {
    EXPECT_TRUE(matches_reference(gated_residual(residual, gate, y, rounding),
                                  gated_residual_reference(residual, gate, y, rounding), 0, Differing::none))
        << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GatedResidual, kModulationDtypes, describe);

// Wan's feed-forward residual: y in fp32 against a bf16 residual.
TEST(GatedResidualMixed, Fp32YOnBf16ResidualMatchesReferenceExactly) {
  for (const auto& [name, residual, gate, y] : gated_residual_cases(at::kBFloat16, at::kFloat, at::kFloat, kCpu)) {
    EXPECT_TRUE(matches_reference(gated_residual(residual, gate, y, Rounding::once),
                                  gated_residual_reference(residual, gate, y, Rounding::once), 0, Differing::none))
        << name;
  }
}

class Rotary : public ::testing::TestWithParam<DtypeCase> {};

TEST_P(Rotary, MatchesReferenceExactly) {
  const auto [dtype, frequency_dtype, rounding] = GetParam();
  for (const auto& [name, x, cos, sin] : rotary_cases(dtype, frequency_dtype, kCpu)) {
    EXPECT_TRUE(matches_reference(apply_rotary_embedding(x, cos, sin), apply_rotary_embedding_reference(x, cos, sin),
                                  0, Differing::none))
        << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Rotary,
                         ::testing::Values(DtypeCase{at::kFloat, at::kFloat, Rounding::once},
                                           DtypeCase{at::kBFloat16, at::kFloat, Rounding::once},
                                           DtypeCase{at::kHalf, at::kFloat, Rounding::once},
                                           DtypeCase{at::kBFloat16, at::kBFloat16, Rounding::once}),
                         describe);


// q and k leave the CPU kernel head-major in memory, each head's rows packed as the attention kernel takes them
// (no copy there), with the same values; an x that is not 4-D gets a contiguous result.
TEST(RotaryLayout, CpuResultIsHeadMajorWithTheReferenceValues) {
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor x = at::randn({2, 5, 3, 16}).to(dtype), table = at::randn({1, 5, 1, 16});
    const at::Tensor rotated = apply_rotary_embedding(x, table, table);
    EXPECT_EQ(rotated.sizes(), x.sizes());
    EXPECT_TRUE(rotated.transpose(1, 2).is_contiguous()) << rotated.strides();
    EXPECT_TRUE(at::equal(rotated, apply_rotary_embedding_reference(x, table, table))) << dtype;
    // A strided x (a head-major view itself) is read through its strides.
    const at::Tensor strided = x.transpose(1, 2).contiguous().transpose(1, 2);
    EXPECT_TRUE(at::equal(apply_rotary_embedding(strided, table, table), rotated)) << dtype;
  }
  const at::Tensor rows = at::randn({4, 6, 8}), rows_table = at::randn({1, 6, 8});
  EXPECT_TRUE(apply_rotary_embedding(rows, rows_table, rows_table).is_contiguous());
}
// Per op on mixed dtypes is the op sequence, type promotion included (fp32 tables on bf16 x give fp32).
TEST(FusedKernels, PerOpOnMixedDtypesIsTheOpSequence) {
  const at::Tensor x = at::randn({1, 2, 8}, at::kBFloat16), table = at::randn({1, 1, 8});
  const at::Tensor modulated = modulated_layer_norm(x, table, table, kEps, Rounding::per_op);
  EXPECT_EQ(modulated.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(modulated, modulated_layer_norm_reference(x, table, table, kEps, Rounding::per_op)));
  const at::Tensor gated = gated_residual(x, table, x, Rounding::per_op);
  EXPECT_EQ(gated.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(gated, gated_residual_reference(x, table, x, Rounding::per_op)));
}

// Operands that do not fit are refused, naming them.
TEST(FusedKernels, RefusesOperandsThatDoNotBroadcast) {
  const at::Tensor x = at::randn({1, 2, 8}), table = at::randn({1, 1, 8});
  try {
    modulated_layer_norm(x, at::randn({3, 1, 8}), table, kEps, Rounding::once);
    FAIL() << "scale [3, 1, 8] accepted for x [1, 2, 8]";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("modulated_layer_norm scale [3, 1, 8] does not broadcast to [1, 2, 8]"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(gated_residual(x, table, x.narrow(1, 0, 1), Rounding::once), std::exception);
  EXPECT_THROW(apply_rotary_embedding(at::randn({1, 2, 1, 5}), at::randn({1, 2, 1, 5}), at::randn({1, 2, 1, 5})),
               std::exception);
}

// What autograd records runs the reference, so gradients flow (the kernels have no backward).
TEST(FusedKernels, RecordedInputsTakeTheReference) {
  const at::Tensor x = at::randn({2, 3, 8}).requires_grad_(), table = at::randn({2, 1, 8});
  EXPECT_TRUE(modulated_layer_norm(x, table, table, kEps, Rounding::once).requires_grad());
  EXPECT_TRUE(gated_residual(x, table, x, Rounding::once).requires_grad());
  EXPECT_TRUE(apply_rotary_embedding(x.unsqueeze(2), table.unsqueeze(2), table.unsqueeze(2)).requires_grad());
}

// Results are contiguous whatever the inputs' strides, and double (which the kernels do not take) still works.
TEST(FusedKernels, ContiguousResultsAndReferenceDtypes) {
  const at::Tensor strided = at::randn({4, 2, 16}).transpose(0, 1), table = at::randn({2, 1, 16});
  EXPECT_TRUE(modulated_layer_norm(strided, table, table, kEps, Rounding::once).is_contiguous());
  const at::Tensor x64 = at::randn({2, 3, 8}, at::kDouble), table64 = at::randn({2, 1, 8}, at::kDouble);
  EXPECT_TRUE(close_relative_to_scale(modulated_layer_norm(x64, table64, table64, kEps, Rounding::per_op),
                                     modulated_layer_norm_reference(x64, table64, table64, kEps, Rounding::per_op),
                                     1e-12));
}

}  // namespace
}  // namespace tessera::testing
