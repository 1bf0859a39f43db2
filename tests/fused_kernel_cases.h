#pragma once
// Awkward inputs for the fused kernels (kernels/modulated_layer_norm, gated_residual, rotary) and how closely a
// kernel must match its reference, shared by the CPU tests (tests/unit) and the CUDA ones (tests/gpu).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/relative_error.h"

namespace tessera::testing {

struct FusedCase {
  std::string name;
  at::Tensor x, a, b;  // modulation: x, scale, shift; gated residual: residual, gate, y; rotary: x, cos, sin
};

inline at::TensorOptions fused_options(c10::ScalarType dtype, c10::Device device) {
  return at::TensorOptions().dtype(dtype).device(device);
}

// x [..., C] with a nonzero mean, and scale / shift broadcast to it in `parameter_dtype`: one row, odd widths,
// a width that is no multiple of the vector width, S = 1, batch and per-token broadcast, 1-D parameters,
// non-contiguous x (leading dims and last dim), Wan's per-token modulation chunk (a strided view), and a 6-D
// broadcast whose strides do not merge.
inline std::vector<FusedCase> modulation_cases(c10::ScalarType x_dtype, c10::ScalarType parameter_dtype,
                                               c10::Device device) {
  at::manual_seed(15);
  const auto xo = fused_options(x_dtype, device), po = fused_options(parameter_dtype, device);
  auto x_of = [&](at::IntArrayRef shape) { return (at::randn(shape, xo.dtype(at::kFloat)) * 3 + 0.5).to(xo); };
  auto p_of = [&](at::IntArrayRef shape) { return at::randn(shape, po) * 0.5; };
  const at::Tensor wan_modulation = p_of({2, 4, 6, 64});
  return {
      {"one_row_C7", x_of({1, 1, 7}), p_of({1, 1, 7}), p_of({1, 1, 7})},
      {"C1", x_of({2, 3, 1}), p_of({2, 1, 1}), p_of({2, 1, 1})},
      {"C33_batch_broadcast", x_of({2, 5, 33}), p_of({2, 1, 33}), p_of({2, 1, 33})},
      {"C1023_per_token", x_of({2, 3, 1023}), p_of({2, 3, 1023}), p_of({2, 3, 1023})},
      {"S1_C16_over_batch", x_of({3, 1, 16}), p_of({1, 1, 16}), p_of({1, 1, 16})},
      {"one_dim_parameters_C20", x_of({2, 3, 20}), p_of({20}), p_of({20})},
      {"strided_rows_C40", x_of({5, 2, 40}).transpose(0, 1), p_of({2, 1, 40}), p_of({2, 1, 40})},
      {"strided_last_dim_C24", x_of({2, 3, 48}).slice(-1, 0, c10::nullopt, 2), p_of({2, 1, 24}),
       p_of({2, 1, 48}).slice(-1, 1, c10::nullopt, 2)},
      {"wan_per_token_chunk_C64", x_of({2, 4, 64}), wan_modulation.select(2, 1), wan_modulation.select(2, 0)},
      {"six_dims_alternating_C8", x_of({2, 2, 2, 2, 2, 8}), p_of({2, 1, 2, 1, 2, 8}), p_of({1, 2, 1, 2, 1, 8})},
      {"wan_width_C1536", x_of({1, 37, 1536}), p_of({1, 1, 1536}), p_of({1, 1, 1536})},
  };
}

// residual [..., C], gate broadcast to it in `gate_dtype`, y like the residual in `y_dtype`.
inline std::vector<FusedCase> gated_residual_cases(c10::ScalarType dtype, c10::ScalarType gate_dtype,
                                                   c10::ScalarType y_dtype, c10::Device device) {
  at::manual_seed(16);
  const auto ro = fused_options(dtype, device), go = fused_options(gate_dtype, device),
             yo = fused_options(y_dtype, device);
  auto r_of = [&](at::IntArrayRef shape) { return at::randn(shape, ro); };
  auto g_of = [&](at::IntArrayRef shape) { return at::randn(shape, go); };
  auto y_of = [&](at::IntArrayRef shape) { return at::randn(shape, yo); };
  const at::Tensor wan_modulation = g_of({2, 4, 6, 40});
  return {
      {"one_row_C7", r_of({1, 1, 7}), g_of({1, 1, 7}), y_of({1, 1, 7})},
      {"C33_batch_broadcast", r_of({2, 5, 33}), g_of({2, 1, 33}), y_of({2, 5, 33})},
      {"C1023_per_token", r_of({2, 3, 1023}), g_of({2, 3, 1023}), y_of({2, 3, 1023})},
      {"S1_one_dim_gate_C9", r_of({3, 1, 9}), g_of({9}), y_of({3, 1, 9})},
      {"strided_y_and_residual_C24", r_of({5, 2, 24}).transpose(0, 1), g_of({2, 1, 24}),
       y_of({2, 5, 48}).slice(-1, 0, c10::nullopt, 2)},
      {"wan_per_token_chunk_C40", r_of({2, 4, 40}), wan_modulation.select(2, 2), y_of({2, 4, 40})},
      {"wan_width_C1536", r_of({1, 37, 1536}), g_of({1, 1, 1536}), y_of({1, 37, 1536})},
  };
}

// x [B, S, H, D] and cos / sin broadcast to it in `frequency_dtype`: head dims below, at and past the vector
// widths (2, 6, 18, 128), S = 1, FLUX's [S, D] frequencies unsqueezed, per-batch frequencies, and x a strided view
// (one of q, k, v in a fused projection).
inline std::vector<FusedCase> rotary_cases(c10::ScalarType dtype, c10::ScalarType frequency_dtype,
                                           c10::Device device) {
  at::manual_seed(17);
  const auto xo = fused_options(dtype, device), fo = fused_options(frequency_dtype, device);
  auto x_of = [&](at::IntArrayRef shape) { return at::randn(shape, xo); };
  auto f_of = [&](at::IntArrayRef shape) { return at::randn(shape, fo); };
  const at::Tensor flux_cos = f_of({9, 18}), flux_sin = f_of({9, 18});
  return {
      {"D2", x_of({1, 3, 2, 2}), f_of({1, 3, 1, 2}), f_of({1, 3, 1, 2})},
      {"D6_S1", x_of({2, 1, 3, 6}), f_of({1, 1, 1, 6}), f_of({1, 1, 1, 6})},
      {"D18_flux_frequencies", x_of({2, 9, 3, 18}), flux_cos.unsqueeze(0).unsqueeze(2),
       flux_sin.unsqueeze(0).unsqueeze(2)},
      {"D128_per_batch", x_of({2, 5, 4, 128}), f_of({2, 5, 1, 128}), f_of({2, 5, 1, 128})},
      {"D16_strided_x", x_of({2, 7, 3, 4, 16}).select(2, 1), f_of({1, 7, 1, 16}), f_of({1, 7, 1, 16})},
  };
}

// How many elements of a kernel's result may differ from the reference at all.
enum class Differing {
  none,     // the kernel does the reference's roundings exactly
  few,      // 1 + 1% of them: one unit of the dtype where the kernel's own statistics put a value across a rounding
  any,      // fp32 results of other statistics: the tolerance alone bounds them
};

// The kernel's result has the reference's shape and dtype and is within `tolerance` x max|reference| of it.
inline ::testing::AssertionResult matches_reference(const at::Tensor& actual, const at::Tensor& expected,
                                                    double tolerance, Differing differing_allowed) {
  if (actual.sizes() != expected.sizes() || actual.scalar_type() != expected.scalar_type()) {
    return ::testing::AssertionFailure() << "got " << actual.sizes() << " " << actual.scalar_type() << ", expected "
                                         << expected.sizes() << " " << expected.scalar_type();
  }
  const at::Tensor a = actual.cpu().to(at::kDouble), e = expected.cpu().to(at::kDouble);
  const double error = relative_error(a, e);
  const int64_t differing = a.ne(e).sum().item<int64_t>();
  const int64_t allowed = differing_allowed == Differing::none  ? 0
                          : differing_allowed == Differing::few ? 1 + e.numel() / 100
                                                                : e.numel();
  if (error <= tolerance && differing <= allowed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max abs error " << error << " x max|expected| (tolerance " << tolerance
                                       << "), " << differing << " of " << e.numel() << " elements differ (allowed "
                                       << allowed << ")";
}

// The modulation kernels' bounds in `dtype`: two units in the last place relative to the largest value (a
// differing norm moves the rounded product by one, the sum by one more), 1e-5 in fp32.
inline double modulation_tolerance(c10::ScalarType dtype) {
  return dtype == at::kBFloat16 ? 2.0 / 128 : dtype == at::kHalf ? 2.0 / 1024 : 1e-5;
}
inline Differing modulation_differing(c10::ScalarType dtype) {
  return dtype == at::kFloat ? Differing::any : Differing::few;
}

}  // namespace tessera::testing
