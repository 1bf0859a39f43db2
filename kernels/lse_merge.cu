// lse_merge on sm_90: one warp per (batch, position, head) row. Every lane computes the row's two weights from
// the two log-sum-exps (the same loads, broadcast), the lanes stride over head_dim, and lane 0 writes the merged
// log-sum-exp once the warp has read it.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <cmath>

#include "kernels/cuda_kernels.h"

namespace tessera {
namespace {

constexpr int kRowsPerBlock = 8;

// Element strides of a [batch, seq, heads, head_dim] output, or of a [batch, heads, seq] lse (head_dim unused).
struct RowStrides {
  int64_t batch, seq, heads, head_dim;
};

RowStrides output_strides(const at::Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }
RowStrides lse_strides(const at::Tensor& t) { return {t.stride(0), t.stride(2), t.stride(1), 0}; }

template <typename scalar_t>
__global__ void lse_merge_kernel(float* output, RowStrides output_stride, float* lse, RowStrides lse_stride,
                                 const scalar_t* partial, RowStrides partial_stride, const float* partial_lse,
                                 RowStrides partial_lse_stride, int64_t rows, int64_t seq, int64_t heads,
                                 int64_t head_dim) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;
  const int64_t h = row % heads, s = row / heads % seq, b = row / heads / seq;
  float* const lse_entry = lse + b * lse_stride.batch + s * lse_stride.seq + h * lse_stride.heads;
  const float accumulated = *lse_entry;
  const float incoming =
      partial_lse[b * partial_lse_stride.batch + s * partial_lse_stride.seq + h * partial_lse_stride.heads];
  const float top = fmaxf(accumulated, incoming);
  const bool seen = top != -INFINITY;  // neither side has seen a key: both weights 0
  float kept_weight = 0.0f, added_weight = 0.0f, total = 1.0f;
  if (seen) {
    const float kept = expf(accumulated - top), added = expf(incoming - top);
    total = kept + added;
    kept_weight = kept / total;
    added_weight = added / total;
  }
  float* const out_row = output + b * output_stride.batch + s * output_stride.seq + h * output_stride.heads;
  const scalar_t* const partial_row =
      partial + b * partial_stride.batch + s * partial_stride.seq + h * partial_stride.heads;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float* const out = out_row + d * output_stride.head_dim;
    const float added = static_cast<float>(partial_row[d * partial_stride.head_dim]);
    *out = seen ? *out * kept_weight + added * added_weight : 0.0f;
  }
  __syncwarp();  // every lane has read *lse_entry
  if (threadIdx.x == 0) *lse_entry = seen ? top + logf(total) : -INFINITY;
}

}  // namespace

void lse_merge_cuda(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                    const at::Tensor& partial_lse) {
  const int64_t seq = output.size(1), heads = output.size(2), head_dim = output.size(3);
  const int64_t rows = output.size(0) * seq * heads;
  if (rows == 0 || head_dim == 0) return;
  const c10::cuda::CUDAGuard guard(output.device());
  const dim3 block(32, kRowsPerBlock);
  const dim3 grid(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock));
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, partial_output.scalar_type(), "lse_merge_cuda", [&] {
    lse_merge_kernel<scalar_t><<<grid, block, 0, stream>>>(
        output.data_ptr<float>(), output_strides(output), lse.data_ptr<float>(), lse_strides(lse),
        partial_output.const_data_ptr<scalar_t>(), output_strides(partial_output), partial_lse.const_data_ptr<float>(),
        lse_strides(partial_lse), rows, seq, heads, head_dim);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace tessera
