// apply_rotary_embedding's CPU kernel, compiled once per instruction set (kernels/cpu_kernels.h).
#include <vector>

#include "kernels/cpu_kernels.h"
#include "kernels/cpu_rows.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {
namespace {

// One row of head_dim values: pairs split into even and odd lanes (deinterleave), rotated, interleaved back.
void rotate_row(const float* x, const float* cos, const float* sin, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + 2 * Vec::size() <= n; j += 2 * Vec::size()) {
    const auto [even, odd] = at::vec::deinterleave2(Vec::loadu(x + j), Vec::loadu(x + j + Vec::size()));
    const Vec cos_even = std::get<0>(at::vec::deinterleave2(Vec::loadu(cos + j), Vec::loadu(cos + j + Vec::size())));
    const Vec sin_odd = std::get<1>(at::vec::deinterleave2(Vec::loadu(sin + j), Vec::loadu(sin + j + Vec::size())));
    const auto [first, second] =
        at::vec::interleave2(even * cos_even - odd * sin_odd, even * sin_odd + odd * cos_even);
    first.store(out + j);
    second.store(out + j + Vec::size());
  }
  for (; j < n; j += 2) {
    const float even = x[j], odd = x[j + 1];
    out[j] = even * cos[j] - odd * sin[j + 1];
    out[j + 1] = even * sin[j + 1] + odd * cos[j];
  }
}

}  // namespace

void apply_rotary_embedding(const RowOperand& x, const RowOperand& cos, const RowOperand& sin,
                            const RowOffsets& output_rows, at::Tensor& output) {
  const int64_t n = output.size(-1), rows = output.numel() / n;
  for_each_row_chunk(rows, n, [&](int64_t begin, int64_t end) {
    std::vector<float> buffers(4 * n);
    float *x_buffer = buffers.data(), *cos_buffer = x_buffer + n, *sin_buffer = cos_buffer + n,
          *output_buffer = sin_buffer + n;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t offset = output_rows(row);
      float* out = destination_at(output, offset, output_buffer);
      rotate_row(read(x, row, n, x_buffer), read(cos, row, n, cos_buffer), read(sin, row, n, sin_buffer), out, n);
      write_at(out, output, offset, n);
    }
  });
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
