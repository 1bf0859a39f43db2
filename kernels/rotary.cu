// The CUDA twin of apply_rotary_embedding's CPU kernel: one thread per (even, odd) pair, a grid-stride loop.
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/cuda_kernels.h"
#include "kernels/cuda_rows.cuh"
#include "kernels/row_offsets.h"

namespace tessera {
namespace {

using cuda_rows::kBlockThreads;
using cuda_rows::load;

template <typename T, typename F>
__global__ void __launch_bounds__(kBlockThreads)
    rotary_kernel(const T* __restrict__ x, RowOffsets x_rows, const F* __restrict__ cos, RowOffsets cos_rows,
                  const F* __restrict__ sin, RowOffsets sin_rows, T* __restrict__ out, int64_t n, int64_t pairs) {
  const int64_t pairs_per_row = n / 2;
  for (int64_t pair = blockIdx.x * int64_t{kBlockThreads} + threadIdx.x; pair < pairs;
       pair += int64_t{gridDim.x} * kBlockThreads) {
    const int64_t row = pair / pairs_per_row, even_column = 2 * (pair % pairs_per_row);
    const int64_t x_offset = x_rows(row) + even_column;
    const float even = load(x, x_offset), odd = load(x, x_offset + 1);
    const float cos_even = load(cos, cos_rows(row) + even_column);
    const float sin_odd = load(sin, sin_rows(row) + even_column + 1);
    // Products rounded apart, as the reference's separate multiplies and adds are (no fused multiply-add).
    out[2 * pair] = static_cast<T>(__fsub_rn(__fmul_rn(even, cos_even), __fmul_rn(odd, sin_odd)));
    out[2 * pair + 1] = static_cast<T>(__fadd_rn(__fmul_rn(even, sin_odd), __fmul_rn(odd, cos_even)));
  }
}

}  // namespace

at::Tensor apply_rotary_embedding_cuda(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const c10::cuda::CUDAGuard guard(x.device());
  // The kernel reads cos and sin in fp32 (the models' frequencies are) or, both alike, in x's dtype.
  const bool frequencies_in_x_dtype = cos.scalar_type() == x.scalar_type() && sin.scalar_type() == x.scalar_type();
  const RowOperand x_rows = row_operand(x, x.sizes(), "rotary x");
  const RowOperand cos_rows = row_operand(frequencies_in_x_dtype ? cos : cos.to(at::kFloat), x.sizes(), "rotary cos");
  const RowOperand sin_rows = row_operand(frequencies_in_x_dtype ? sin : sin.to(at::kFloat), x.sizes(), "rotary sin");
  at::Tensor output = at::empty(x.sizes(), x.options());
  const int64_t n = x.size(-1), pairs = x.numel() / 2;
  const auto stream = at::cuda::getCurrentCUDAStream();
  cuda_rows::with_dtype(x.scalar_type(), [&](auto x_value) {
    using T = decltype(x_value);
    auto launch = [&](auto frequency_value) {
      using F = decltype(frequency_value);
      rotary_kernel<T, F><<<cuda_rows::grid_blocks(pairs), kBlockThreads, 0, stream>>>(
          x_rows.tensor.const_data_ptr<T>(), x_rows.rows, cos_rows.tensor.const_data_ptr<F>(), cos_rows.rows,
          sin_rows.tensor.const_data_ptr<F>(), sin_rows.rows, output.mutable_data_ptr<T>(), n, pairs);
    };
    if (frequencies_in_x_dtype) {
      launch(T{});
    } else {
      launch(float{});
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

}  // namespace tessera
