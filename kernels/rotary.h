#pragma once
#include <ATen/core/Tensor.h>

namespace tessera {

// Rotary position embedding on interleaved pairs (x[2i], x[2i+1]), as Wan and FLUX use it:
//   out[2i]   = x[2i] cos[2i] - x[2i+1] sin[2i+1]
//   out[2i+1] = x[2i] sin[2i+1] + x[2i+1] cos[2i]
// x [batch, seq, heads, head_dim]; cos and sin broadcast to it ([1, seq, 1, head_dim], each frequency
// repeated twice). Computed in fp32, returned in x's dtype and shape (contiguous). CPU tensors run the fused CPU
// kernel, CUDA tensors the CUDA kernel (when built with it); the rest, and anything autograd records, the
// reference.
at::Tensor apply_rotary_embedding(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// The same in plain ATen (pairs unflattened, rotated, stacked back): the kernels' contract.
at::Tensor apply_rotary_embedding_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace tessera
