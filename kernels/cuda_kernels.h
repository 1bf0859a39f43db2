#pragma once
// The CUDA kernels' entry points, defined in kernels/*.cu when tessera is built with CUDA
// (TESSERA_WITH_CUDA_KERNELS). Each op's dispatch function calls them for CUDA tensors after its checks: the
// tensors are on one CUDA device, in float, bfloat16 or half, and broadcast as the op's header says.
#include <ATen/core/Tensor.h>

#include "kernels/rounding.h"

namespace tessera {

at::Tensor modulated_layer_norm_cuda(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, double eps,
                                     Rounding rounding);
at::Tensor gated_residual_cuda(const at::Tensor& residual, const at::Tensor& gate, const at::Tensor& y,
                               Rounding rounding);
at::Tensor apply_rotary_embedding_cuda(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
void lse_merge_cuda(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                    const at::Tensor& partial_lse);
at::Tensor all_to_all_pack_cuda(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes);
at::Tensor all_to_all_unpack_cuda(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                                  at::IntArrayRef chunk_sizes);

}  // namespace tessera
