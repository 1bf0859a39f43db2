// modulated_layer_norm's CPU kernel, compiled once per instruction set (kernels/cpu_kernels.h).
#include <cmath>
#include <vector>

#include "kernels/cpu_kernels.h"
#include "kernels/cpu_rows.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {
namespace {

// Mean and 1 / sqrt(variance + eps) of `values`, two passes in fp32 (the row is in cache for the second).
std::pair<float, float> row_statistics(const float* values, int64_t n, float eps) {
  Vec sum_vec(0.f);
  int64_t j = 0;
  for (; j + Vec::size() <= n; j += Vec::size()) sum_vec += Vec::loadu(values + j);
  float sum = lanes_sum(sum_vec);
  for (; j < n; ++j) sum += values[j];
  const float mean = sum / static_cast<float>(n);

  const Vec mean_vec(mean);
  Vec squares_vec(0.f);
  for (j = 0; j + Vec::size() <= n; j += Vec::size()) {
    const Vec deviation = Vec::loadu(values + j) - mean_vec;
    squares_vec += deviation * deviation;
  }
  float squares = lanes_sum(squares_vec);
  for (; j < n; ++j) squares += (values[j] - mean) * (values[j] - mean);
  return {mean, 1.f / std::sqrt(squares / static_cast<float>(n) + eps)};
}

// Per op in the 16-bit dtype T (every operand in T), in registers: the norm and its product with `factor`
// (1 + scale, rounded to T already) each rounded to T, then the sum.
template <typename T>
void modulate_row_per_op(const float* x, const float* factor, const T* shift, T* out, int64_t n, float mean,
                         float rstd) {
  constexpr int64_t kChunk = at::vec::Vectorized<T>::size();
  // As ATen's layer_norm: x * rstd + (-mean * rstd).
  const Vec multiplier(rstd), offset(-mean * rstd);
  for (int64_t j = 0; j < n; j += kChunk) {
    const int64_t count = std::min(kChunk, n - j);
    const auto [x_low, x_high] = load_pair(x + j, count);
    const auto [factor_low, factor_high] = load_pair(factor + j, count);
    const auto [shift_low, shift_high] = load_float(shift + j, count);
    const auto [normed_low, normed_high] = rounded<T>(x_low * multiplier + offset, x_high * multiplier + offset);
    const auto [product_low, product_high] = rounded<T>(normed_low * factor_low, normed_high * factor_high);
    at::vec::convert_from_float<T>(product_low + shift_low, product_high + shift_high)
        .store(out + j, static_cast<int>(count));
  }
}

// 1 + scale rounded to the 16-bit dtype T, as the op sequence's `1 + scale` tensor holds it.
template <typename T>
void one_plus_rounded(const T* scale, float* factor, int64_t n) {
  constexpr int64_t kChunk = at::vec::Vectorized<T>::size();
  const Vec one(1.f);
  for (int64_t j = 0; j < n; j += kChunk) {
    const int64_t count = std::min(kChunk, n - j);
    const auto [scale_low, scale_high] = load_float(scale + j, count);
    const auto [factor_low, factor_high] = rounded<T>(one + scale_low, one + scale_high);
    factor_low.store(factor + j, static_cast<int>(std::min<int64_t>(count, Vec::size())));
    if (count > Vec::size()) factor_high.store(factor + j + Vec::size(), static_cast<int>(count - Vec::size()));
  }
}

template <typename T>
void modulate_rows_per_op(const RowOperand& x, const RowOperand& scale, const RowOperand& shift, float eps,
                          at::Tensor& output, int64_t begin, int64_t end) {
  const int64_t n = output.size(-1);
  std::vector<float> buffers(2 * n);
  float *x_buffer = buffers.data(), *factor = x_buffer + n;
  int64_t factor_offset = -1;  // the scale row `factor` was made from: rows that share it (batch broadcast) reuse it
  for (int64_t row = begin; row < end; ++row) {
    if (scale.rows(row) != factor_offset) {
      factor_offset = scale.rows(row);
      one_plus_rounded(scale.tensor.const_data_ptr<T>() + factor_offset, factor, n);
    }
    const float* x_row = read(x, row, n, x_buffer);
    const auto [mean, rstd] = row_statistics(x_row, n, eps);
    modulate_row_per_op(x_row, factor, row_of<T>(shift, row), output.mutable_data_ptr<T>() + row * n, n, mean, rstd);
  }
}

// fp32 math on rows read as fp32, one rounding when written.
void modulate_row_once(const float* x, const float* scale, const float* shift, float* out, int64_t n, float mean,
                       float rstd) {
  const Vec multiplier(rstd), offset(-mean * rstd), one(1.f);
  int64_t j = 0;
  for (; j + Vec::size() <= n; j += Vec::size()) {
    ((Vec::loadu(x + j) * multiplier + offset) * (one + Vec::loadu(scale + j)) + Vec::loadu(shift + j)).store(out + j);
  }
  for (; j < n; ++j) out[j] = (x[j] * rstd + -mean * rstd) * (1.f + scale[j]) + shift[j];
}

}  // namespace

void modulated_layer_norm(const RowOperand& x, const RowOperand& scale, const RowOperand& shift, float eps,
                          Rounding rounding, at::Tensor& output) {
  const int64_t n = output.size(-1), rows = output.numel() / n;
  const c10::ScalarType dtype = output.scalar_type();
  const bool per_op = rounding == Rounding::per_op && dtype != at::kFloat;  // fp32 rounds alike either way
  for_each_row_chunk(rows, n, [&](int64_t begin, int64_t end) {
    if (per_op && dtype == at::kBFloat16) return modulate_rows_per_op<c10::BFloat16>(x, scale, shift, eps, output, begin, end);
    if (per_op && dtype == at::kHalf) return modulate_rows_per_op<c10::Half>(x, scale, shift, eps, output, begin, end);
    std::vector<float> buffers(4 * n);
    float *x_buffer = buffers.data(), *scale_buffer = x_buffer + n, *shift_buffer = scale_buffer + n,
          *output_buffer = shift_buffer + n;
    for (int64_t row = begin; row < end; ++row) {
      const float* x_row = read(x, row, n, x_buffer);
      const auto [mean, rstd] = row_statistics(x_row, n, eps);
      float* out = destination(output, row, n, output_buffer);
      modulate_row_once(x_row, read(scale, row, n, scale_buffer), read(shift, row, n, shift_buffer), out, n, mean,
                        rstd);
      write(out, output, row, n);
    }
  });
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
