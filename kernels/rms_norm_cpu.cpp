// rms_norm's CPU kernel, compiled once per instruction set (kernels/cpu_kernels.h).
#include <cmath>

#include "kernels/cpu_kernels.h"
#include "kernels/cpu_rows.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {

void rms_norm(const RowOperand& x, const at::Tensor& weight, float eps, at::Tensor& output) {
  const int64_t n = output.size(-1), rows = output.numel() / n;
  const float* weight_row = weight.const_data_ptr<float>();
  for_each_row_chunk(rows, n, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float* values = row_of<float>(x, row);
      float* out = output.mutable_data_ptr<float>() + row * n;
      Vec squares_vec(0.f);
      int64_t j = 0;
      for (; j + Vec::size() <= n; j += Vec::size()) {
        const Vec value = Vec::loadu(values + j);
        squares_vec += value * value;
      }
      float squares = lanes_sum(squares_vec);
      for (; j < n; ++j) squares += values[j] * values[j];
      // As the op: x * rsqrt(mean + eps), then the weight.
      const float inverse = 1.f / std::sqrt(squares / static_cast<float>(n) + eps);
      const Vec inverse_vec(inverse);
      for (j = 0; j + Vec::size() <= n; j += Vec::size()) {
        (Vec::loadu(values + j) * inverse_vec * Vec::loadu(weight_row + j)).store(out + j);
      }
      for (; j < n; ++j) out[j] = values[j] * inverse * weight_row[j];
    }
  });
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
