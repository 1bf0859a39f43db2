#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace tessera::testing {

// The parity criterion: max |actual - expected| <= tolerance × max |expected| (fp32 on CPU: 1e-5).
inline ::testing::AssertionResult close_relative_to_scale(const at::Tensor& actual, const at::Tensor& expected,
                                                          double tolerance = 1e-5) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != expected " << expected.sizes();
  }
  const double scale = expected.abs().max().item<double>();
  const double error = (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
  if (error <= tolerance * std::max(scale, 1e-30)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max abs error " << error << " > " << tolerance << " x max abs "
                                       << scale;
}

}  // namespace tessera::testing
