#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/relative_error.h"

namespace tessera::testing {

// The parity criterion: max |actual - expected| <= tolerance × max |expected| (fp32 on CPU: 1e-5).
inline ::testing::AssertionResult close_relative_to_scale(const at::Tensor& actual, const at::Tensor& expected,
                                                          double tolerance = 1e-5) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != expected " << expected.sizes();
  }
  const double error = relative_error(actual, expected);
  if (error <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max abs error " << error << " x max abs expected > " << tolerance
                                       << " x max abs expected (" << expected.abs().max().item<double>() << ")";
}

}  // namespace tessera::testing
