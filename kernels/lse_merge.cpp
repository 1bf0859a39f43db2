#include "kernels/lse_merge.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "kernels/cuda_architectures.h"
#include "kernels/cuda_kernels.h"

namespace tessera {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

void check_arguments(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                     const at::Tensor& partial_lse) {
  TESSERA_CHECK(output.dim() == 4 && output.scalar_type() == at::kFloat, "lse_merge accumulates into an fp32 ",
                "output [batch, seq, heads, head_dim], got ", output.scalar_type(), " ", output.sizes());
  const std::vector<int64_t> lse_shape{output.size(0), output.size(2), output.size(1)};
  TESSERA_CHECK(lse.scalar_type() == at::kFloat && lse.sizes() == at::IntArrayRef(lse_shape),
                "lse_merge: the log-sum-exp accumulator must be fp32 ", at::IntArrayRef(lse_shape), ", got ",
                lse.scalar_type(), " ", lse.sizes());
  TESSERA_CHECK(partial_output.sizes() == output.sizes() && at::isFloatingType(partial_output.scalar_type()),
                "lse_merge: the partial output must be a floating tensor of the output's shape ", output.sizes(),
                ", got ", partial_output.scalar_type(), " ", partial_output.sizes());
  TESSERA_CHECK(partial_lse.scalar_type() == at::kFloat && partial_lse.sizes() == lse.sizes(),
                "lse_merge: the partial log-sum-exp must be fp32 ", lse.sizes(), ", got ", partial_lse.scalar_type(),
                " ", partial_lse.sizes());
  TESSERA_CHECK(output.device() == lse.device() && output.device() == partial_output.device() &&
                    output.device() == partial_lse.device(),
                "lse_merge: every tensor must be on one device, got ", output.device(), ", ", lse.device(), ", ",
                partial_output.device(), ", ", partial_lse.device());
}

// One (batch, position, head) row per step: its two weights once, then head_dim multiply-adds in vectors.
template <typename scalar_t>
void lse_merge_cpu(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                   const at::Tensor& partial_lse) {
  using Vec = at::vec::Vectorized<float>;
  const int64_t seq = output.size(1), heads = output.size(2), head_dim = output.size(3);
  const int64_t rows = output.size(0) * seq * heads;
  float* const out = output.data_ptr<float>();
  float* const running_lse = lse.data_ptr<float>();
  const scalar_t* const partial = partial_output.const_data_ptr<scalar_t>();
  const float* const incoming_lse = partial_lse.const_data_ptr<float>();
  const auto out_stride = output.strides(), partial_stride = partial_output.strides();
  const auto lse_stride = lse.strides(), incoming_stride = partial_lse.strides();
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(head_dim, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
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
  check_arguments(output, lse, partial_output, partial_lse);
  if (output.numel() == 0) return;
  if (output.is_cpu() && output.stride(3) == 1) {
    const at::Tensor partial = partial_output.stride(3) == 1 ? partial_output : partial_output.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, partial.scalar_type(), "lse_merge", [&] {
      lse_merge_cpu<scalar_t>(output, lse, partial, partial_lse);
    });
    return;
  }
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(output.device())) {
    lse_merge_cuda(output, lse, partial_output, partial_lse);
    return;
  }
#endif
  lse_merge_reference(output, lse, partial_output, partial_lse);
}

void lse_merge_reference(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                         const at::Tensor& partial_lse) {
  const at::Tensor merged = at::logaddexp(lse, partial_lse);
  const at::Tensor seen = merged.ne(kMinusInfinity);  // both -inf: exp(-inf - -inf) is NaN, the weight is 0
  // lse is [B, H, S]; outputs are [B, S, H, D].
  auto weight = [&](const at::Tensor& part) {
    return at::where(seen, at::exp(part - merged), 0.0f).transpose(1, 2).unsqueeze(-1);
  };
  const at::Tensor kept = weight(lse), added = weight(partial_lse);
  output.mul_(kept).add_(partial_output.to(at::kFloat) * added);
  lse.copy_(merged);
}

}  // namespace tessera
