#include "src/models/fp8_scaled_linear.h"

#include <ATen/ATen.h>

#include <map>
#include <mutex>

#include "common/check.h"
#include "common/log.h"

namespace tessera {
namespace {

// at::_scaled_mm takes FP8 operands whose inner and outer dimensions are multiples of 16.
constexpr int64_t kScaledMmMultiple = 16;

}  // namespace

at::Tensor fp8_row_scales(const at::Tensor& absmax) {
  const at::Tensor scale = absmax / kFloat8E4m3Max;
  // A row of zeros has nothing to scale: 1 keeps it zero without dividing by zero.
  return at::where(scale > 0, scale, at::ones_like(scale));
}

at::Tensor quantize_fp8_with_scales(const at::Tensor& rows, const at::Tensor& scale) {
  // The quotient of the absmax is 448 up to rounding; the clamp keeps it finite in e4m3fn, which has no infinity.
  return (rows.to(at::kFloat) / scale.unsqueeze(1)).clamp(-kFloat8E4m3Max, kFloat8E4m3Max).to(at::kFloat8_e4m3fn);
}

Fp8Quantized quantize_fp8_rows(const at::Tensor& matrix) {
  TESSERA_INTERNAL_ASSERT(matrix.dim() == 2, "quantize_fp8_rows takes a matrix, not ", matrix.sizes());
  const at::Tensor rows = matrix.to(at::kFloat);
  const at::Tensor scale = fp8_row_scales(rows.abs().amax(/*dim=*/1));
  return {.values = quantize_fp8_with_scales(rows, scale), .scale = scale};
}

at::Tensor fp8_scaled_linear(const at::Tensor& x, const Fp8Quantized& weight, const at::Tensor& bias,
                             c10::ScalarType compute_dtype, Fp8MatmulPath path) {
  const std::optional<at::Tensor> bias_or_none = bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt;
  if (path == Fp8MatmulPath::reference) {
    const at::Tensor dequantized = (weight.values.to(at::kFloat) * weight.scale.unsqueeze(1)).to(compute_dtype);
    return at::linear(x.to(compute_dtype), dequantized, bias_or_none);
  }
  const int64_t in = weight.values.size(1), out = weight.values.size(0);
  TESSERA_INTERNAL_ASSERT(in % kScaledMmMultiple == 0 && out % kScaledMmMultiple == 0,
                          "_scaled_mm needs widths that are multiples of 16, not ", weight.values.sizes());
  // Per token: one outlier token does not coarsen the others' steps, as one tensor-wide scale would.
  const Fp8Quantized tokens = quantize_fp8_rows(x.reshape({-1, in}));
  const at::Tensor unit = at::ones({}, x.options().dtype(at::kFloat));
  // The FP8 products are exact in fp32 and accumulate in fp32; the scales are applied to the fp32 sums.
  at::Tensor product = at::_scaled_mm(tokens.values, weight.values.t(), unit, unit, std::nullopt, std::nullopt,
                                      at::kFloat);
  product = product * tokens.scale.unsqueeze(1) * weight.scale.unsqueeze(0);
  if (bias_or_none) product = product + bias.to(at::kFloat);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = out;
  return product.to(compute_dtype).reshape(shape);
}

Fp8MatmulPath fp8_matmul_path(const at::Tensor& x, const Fp8Quantized& weight) {
  const bool widths = weight.values.size(0) % kScaledMmMultiple == 0 && weight.values.size(1) % kScaledMmMultiple == 0;
  return widths && fp8_matmul_runs_on(x.device()) ? Fp8MatmulPath::scaled_mm : Fp8MatmulPath::reference;
}

bool fp8_matmul_runs_on(const c10::Device& device) {
  if (!device.is_cuda()) return false;
  static std::mutex mutex;
  static std::map<int, bool> answers;  // by device index
  const std::lock_guard lock(mutex);
  if (const auto found = answers.find(device.index()); found != answers.end()) return found->second;
  bool runs = true;
  try {
    const at::Tensor operand = at::zeros({kScaledMmMultiple, kScaledMmMultiple}, at::device(device).dtype(at::kFloat))
                                   .to(at::kFloat8_e4m3fn);
    const at::Tensor unit = at::ones({}, at::device(device).dtype(at::kFloat));
    (void)at::_scaled_mm(operand, operand.t(), unit, unit, std::nullopt, std::nullopt, at::kFloat);
  } catch (const std::exception& error) {
    runs = false;
    TESSERA_LOG_INFO("FP8 matmul (at::_scaled_mm) does not run on ", device.str(),
                     " (FP8 tensor cores need compute capability 8.9 or above): --weights fp8-scaled dequantises "
                     "each layer instead. ", error.what());
  }
  answers.emplace(device.index(), runs);
  return runs;
}

}  // namespace tessera
