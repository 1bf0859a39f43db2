// The CUDA twin of modulated_layer_norm's CPU kernel: one block per row, fp32 statistics by block reductions,
// the row re-read from cache for each pass.
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

template <typename T, typename P>
__global__ void __launch_bounds__(kBlockThreads)
    modulated_layer_norm_kernel(const T* __restrict__ x, RowOffsets x_rows, const P* __restrict__ scale,
                                RowOffsets scale_rows, const P* __restrict__ shift, RowOffsets shift_rows,
                                T* __restrict__ out, int64_t n, float eps, bool round_each_op) {
  __shared__ float scratch[kBlockThreads / 32];
  const int64_t row = blockIdx.x;
  const T* x_row = x + x_rows(row);
  const P* scale_row = scale + scale_rows(row);
  const P* shift_row = shift + shift_rows(row);
  T* out_row = out + row * n;

  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += kBlockThreads) sum += load(x_row, j);
  const float mean = cuda_rows::block_sum(sum, scratch) / static_cast<float>(n);
  float squares = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += kBlockThreads) {
    const float deviation = load(x_row, j) - mean;
    squares += deviation * deviation;
  }
  const float rstd = 1.f / sqrtf(cuda_rows::block_sum(squares, scratch) / static_cast<float>(n) + eps);
  const float offset = -mean * rstd;

  for (int64_t j = threadIdx.x; j < n; j += kBlockThreads) {
    const float normed = load(x_row, j) * rstd + offset;
    const float scale_value = load(scale_row, j), shift_value = load(shift_row, j);
    if (!round_each_op) {
      out_row[j] = static_cast<T>(normed * (1.f + scale_value) + shift_value);
    } else {
      // The op sequence's roundings: the norm, 1 + scale, their product, the sum.
      const float product = cuda_rows::round_to<T>(cuda_rows::round_to<T>(normed) * cuda_rows::round_to<T>(1.f + scale_value));
      out_row[j] = static_cast<T>(product + shift_value);
    }
  }
}

}  // namespace

at::Tensor modulated_layer_norm_cuda(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, double eps,
                                     Rounding rounding) {
  const c10::cuda::CUDAGuard guard(x.device());
  // The kernel reads scale and shift in x's dtype or fp32, both in the same one.
  const bool parameters_in_x_dtype = scale.scalar_type() == x.scalar_type() && shift.scalar_type() == x.scalar_type();
  const RowOperand x_rows = row_operand(x, x.sizes(), "modulated_layer_norm x");
  const RowOperand scale_rows =
      row_operand(parameters_in_x_dtype ? scale : scale.to(at::kFloat), x.sizes(), "modulated_layer_norm scale");
  const RowOperand shift_rows =
      row_operand(parameters_in_x_dtype ? shift : shift.to(at::kFloat), x.sizes(), "modulated_layer_norm shift");
  at::Tensor output = at::empty(x.sizes(), x.options());
  const int64_t n = x.size(-1), rows = x.numel() / n;
  TESSERA_CHECK(rows < (int64_t{1} << 31), "modulated_layer_norm: ", rows, " rows exceed one CUDA grid");
  const bool round_each_op = rounding == Rounding::per_op && x.scalar_type() != at::kFloat;
  const auto stream = at::cuda::getCurrentCUDAStream();
  cuda_rows::with_dtype(x.scalar_type(), [&](auto x_value) {
    using T = decltype(x_value);
    auto launch = [&](auto parameter_value) {
      using P = decltype(parameter_value);
      modulated_layer_norm_kernel<T, P><<<static_cast<unsigned int>(rows), kBlockThreads, 0, stream>>>(
          x_rows.tensor.const_data_ptr<T>(), x_rows.rows, scale_rows.tensor.const_data_ptr<P>(), scale_rows.rows,
          shift_rows.tensor.const_data_ptr<P>(), shift_rows.rows, output.mutable_data_ptr<T>(), n,
          static_cast<float>(eps), round_each_op);
    };
    if (parameters_in_x_dtype) {
      launch(T{});
    } else {
      launch(float{});
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

}  // namespace tessera
