#pragma once
// Entry points of the CUDA kernels (kernels/*.cu), compiled only when tessera is built with CUDA; each op's
// dispatch function calls its kernel here for CUDA tensors under TESSERA_WITH_CUDA_KERNELS.
#include <ATen/core/Tensor.h>

namespace tessera {

void lse_merge_cuda(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                    const at::Tensor& partial_lse);
at::Tensor all_to_all_pack_cuda(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes);
at::Tensor all_to_all_unpack_cuda(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                                  at::IntArrayRef chunk_sizes);

}  // namespace tessera
