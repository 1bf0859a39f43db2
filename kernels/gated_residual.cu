// The CUDA twin of gated_residual's CPU kernel: elementwise, a grid-stride loop over the output.
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <type_traits>

#include "kernels/cuda_kernels.h"
#include "kernels/cuda_rows.cuh"
#include "kernels/row_offsets.h"

namespace tessera {
namespace {

using cuda_rows::kBlockThreads;
using cuda_rows::load;

template <typename T, typename G, typename Y>
__global__ void __launch_bounds__(kBlockThreads)
    gated_residual_kernel(const T* __restrict__ residual, RowOffsets residual_rows, const G* __restrict__ gate,
                          RowOffsets gate_rows, const Y* __restrict__ y, RowOffsets y_rows, T* __restrict__ out,
                          int64_t n, int64_t total, bool round_product) {
  for (int64_t index = blockIdx.x * int64_t{kBlockThreads} + threadIdx.x; index < total;
       index += int64_t{gridDim.x} * kBlockThreads) {
    const int64_t row = index / n, column = index % n;
    // The product rounded apart from the sum, as the reference's separate multiply and add (no fused multiply-add).
    const float product = __fmul_rn(load(gate, gate_rows(row) + column), load(y, y_rows(row) + column));
    const float rounded = round_product ? cuda_rows::round_to<T>(product) : product;
    out[index] = static_cast<T>(__fadd_rn(load(residual, residual_rows(row) + column), rounded));
  }
}

}  // namespace

at::Tensor gated_residual_cuda(const at::Tensor& residual, const at::Tensor& gate, const at::Tensor& y,
                               Rounding rounding) {
  const c10::cuda::CUDAGuard guard(residual.device());
  // The kernel reads gate and y each in the residual's dtype or fp32.
  const auto dtype = residual.scalar_type();
  const RowOperand residual_rows = row_operand(residual, residual.sizes(), "gated_residual residual");
  const RowOperand gate_rows =
      row_operand(gate.scalar_type() == dtype ? gate : gate.to(at::kFloat), residual.sizes(), "gated_residual gate");
  const RowOperand y_rows = row_operand(y.scalar_type() == dtype ? y : y.to(at::kFloat), residual.sizes(), "gated_residual y");
  at::Tensor output = at::empty(residual.sizes(), residual.options());
  const int64_t n = residual.size(-1), total = residual.numel();
  const bool round_product = rounding == Rounding::per_op && dtype != at::kFloat;
  const auto stream = at::cuda::getCurrentCUDAStream();
  cuda_rows::with_dtype(dtype, [&](auto residual_value) {
    using T = decltype(residual_value);
    cuda_rows::with_dtype(gate_rows.tensor.scalar_type(), [&](auto gate_value) {
      using G = decltype(gate_value);
      cuda_rows::with_dtype(y_rows.tensor.scalar_type(), [&](auto y_value) {
        using Y = decltype(y_value);
        // Only the residual's dtype or fp32 reach here (above); the other pairings are never launched.
        if constexpr ((std::is_same_v<G, T> || std::is_same_v<G, float>) && (std::is_same_v<Y, T> || std::is_same_v<Y, float>)) {
          gated_residual_kernel<T, G, Y><<<cuda_rows::grid_blocks(total), kBlockThreads, 0, stream>>>(
              residual_rows.tensor.const_data_ptr<T>(), residual_rows.rows, gate_rows.tensor.const_data_ptr<G>(),
              gate_rows.rows, y_rows.tensor.const_data_ptr<Y>(), y_rows.rows, output.mutable_data_ptr<T>(), n, total,
              round_product);
        }
      });
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

}  // namespace tessera
