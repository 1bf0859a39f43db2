// lse_merge's CPU kernel, compiled once per instruction set (kernels/cpu_kernels.h).
#include <ATen/Dispatch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu_kernels.h"
#include "kernels/cpu_rows.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// One (batch, position, head) row per step: its two weights once, then head_dim multiply-adds in vectors.
template <typename scalar_t>
void merge_rows(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                const at::Tensor& partial_lse) {
  const int64_t seq = output.size(1), heads = output.size(2), head_dim = output.size(3);
  const int64_t rows = output.size(0) * seq * heads;
  float* const out = output.data_ptr<float>();
  float* const running_lse = lse.data_ptr<float>();
  const scalar_t* const partial = partial_output.const_data_ptr<scalar_t>();
  const float* const incoming_lse = partial_lse.const_data_ptr<float>();
  const auto out_stride = output.strides(), partial_stride = partial_output.strides();
  const auto lse_stride = lse.strides(), incoming_stride = partial_lse.strides();
  for_each_row_chunk(rows, head_dim, [&](int64_t begin, int64_t end) {
    std::vector<float> converted(std::is_same_v<scalar_t, float> ? 0 : head_dim);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t h = row % heads, s = row / heads % seq, b = row / heads / seq;
      float& accumulated = running_lse[b * lse_stride[0] + h * lse_stride[1] + s * lse_stride[2]];
      const float incoming = incoming_lse[b * incoming_stride[0] + h * incoming_stride[1] + s * incoming_stride[2]];
      float* const out_row = out + b * out_stride[0] + s * out_stride[1] + h * out_stride[2];
      const float top = std::max(accumulated, incoming);
      if (top == kMinusInfinity) {  // neither side has seen a key: both weights 0
        std::fill(out_row, out_row + head_dim, 0.0f);
        continue;
      }
      const float kept = std::exp(accumulated - top), added = std::exp(incoming - top);
      const float total = kept + added;
      const float kept_weight = kept / total, added_weight = added / total;
      accumulated = top + std::log(total);
      const scalar_t* const partial_row = partial + b * partial_stride[0] + s * partial_stride[1] + h * partial_stride[2];
      const float* added_row = nullptr;
      if constexpr (std::is_same_v<scalar_t, float>) {
        added_row = partial_row;
      } else {
        at::vec::convert(partial_row, converted.data(), head_dim);
        added_row = converted.data();
      }
      const Vec kept_vector(kept_weight), added_vector(added_weight);
      int64_t d = 0;
      for (; d + Vec::size() <= head_dim; d += Vec::size()) {
        (Vec::loadu(out_row + d) * kept_vector + Vec::loadu(added_row + d) * added_vector).store(out_row + d);
      }
      for (; d < head_dim; ++d) out_row[d] = out_row[d] * kept_weight + added_row[d] * added_weight;
    }
  });
}

}  // namespace

void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, partial_output.scalar_type(), "lse_merge", [&] {
    merge_rows<scalar_t>(output, lse, partial_output, partial_lse);
  });
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
