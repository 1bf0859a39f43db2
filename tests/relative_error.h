#pragma once
// The error every parity and split test bounds: max |actual - expected| / max |expected|, in fp64. Relative to
// the values' scale, so one bound holds on every CPU (ATen's AVX-512, AVX2 and baseline kernels round
// differently, and an absolute bound fails on one of them where the values are large).
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>

namespace tessera::testing {

inline double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  // Same shapes only: broadcasting would compare a part of one with the whole of the other.
  TORCH_CHECK(actual.sizes() == expected.sizes(), "relative_error: shape ", actual.sizes(), " != expected ",
              expected.sizes());
  const double scale = std::max(expected.abs().max().item<double>(), 1e-30);
  return (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>() / scale;
}

}  // namespace tessera::testing
