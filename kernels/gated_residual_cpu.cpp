// gated_residual's CPU kernel, compiled once per instruction set (kernels/cpu_kernels.h).
#include <vector>

#include "kernels/cpu_kernels.h"
#include "kernels/cpu_rows.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {
namespace {

// Per op in the 16-bit dtype T (every operand in T): the product rounded to T, then the sum; in registers.
template <typename T>
void gated_rows_per_op(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, at::Tensor& output,
                       int64_t begin, int64_t end) {
  constexpr int64_t kChunk = at::vec::Vectorized<T>::size();
  const int64_t n = output.size(-1);
  for (int64_t row = begin; row < end; ++row) {
    const T *residual_row = row_of<T>(residual, row), *gate_row = row_of<T>(gate, row), *y_row = row_of<T>(y, row);
    T* out = output.mutable_data_ptr<T>() + row * n;
    for (int64_t j = 0; j < n; j += kChunk) {
      const int64_t count = std::min(kChunk, n - j);
      const auto [gate_low, gate_high] = load_float(gate_row + j, count);
      const auto [y_low, y_high] = load_float(y_row + j, count);
      const auto [residual_low, residual_high] = load_float(residual_row + j, count);
      const auto [product_low, product_high] = rounded<T>(gate_low * y_low, gate_high * y_high);
      at::vec::convert_from_float<T>(residual_low + product_low, residual_high + product_high)
          .store(out + j, static_cast<int>(count));
    }
  }
}

// fp32 math on rows read as fp32, one rounding when written.
void gated_rows_once(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, at::Tensor& output,
                     int64_t begin, int64_t end) {
  const int64_t n = output.size(-1);
  std::vector<float> buffers(4 * n);
  float *residual_buffer = buffers.data(), *gate_buffer = residual_buffer + n, *y_buffer = gate_buffer + n,
        *output_buffer = y_buffer + n;
  for (int64_t row = begin; row < end; ++row) {
    const float* residual_row = read(residual, row, n, residual_buffer);
    const float* gate_row = read(gate, row, n, gate_buffer);
    const float* y_row = read(y, row, n, y_buffer);
    float* out = destination(output, row, n, output_buffer);
    int64_t j = 0;
    for (; j + Vec::size() <= n; j += Vec::size()) {
      (Vec::loadu(residual_row + j) + Vec::loadu(y_row + j) * Vec::loadu(gate_row + j)).store(out + j);
    }
    for (; j < n; ++j) out[j] = residual_row[j] + y_row[j] * gate_row[j];
    write(out, output, row, n);
  }
}

}  // namespace

void gated_residual(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, Rounding rounding,
                    at::Tensor& output) {
  const int64_t n = output.size(-1), rows = output.numel() / n;
  const c10::ScalarType dtype = output.scalar_type();
  for_each_row_chunk(rows, n, [&](int64_t begin, int64_t end) {
    if (rounding == Rounding::per_op && dtype == at::kBFloat16) {
      gated_rows_per_op<c10::BFloat16>(residual, gate, y, output, begin, end);
    } else if (rounding == Rounding::per_op && dtype == at::kHalf) {
      gated_rows_per_op<c10::Half>(residual, gate, y, output, begin, end);
    } else {
      gated_rows_once(residual, gate, y, output, begin, end);  // fp32 rounds alike either way
    }
  });
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
