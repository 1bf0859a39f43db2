#pragma once
// The error every parity and split test bounds: max |actual - expected| / max |expected|, in fp64.
#include <ATen/ATen.h>

#include <algorithm>

namespace tessera::testing {

inline double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const double scale = std::max(expected.abs().max().item<double>(), 1e-30);
  return (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>() / scale;
}

}  // namespace tessera::testing
