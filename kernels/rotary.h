#pragma once
#include <ATen/core/Tensor.h>

namespace tessera {

// Rotary position embedding on interleaved pairs (x[2i], x[2i+1]), as Wan and FLUX use it:
//   out[2i]   = x[2i] cos[2i] - x[2i+1] sin[2i+1]
//   out[2i+1] = x[2i] sin[2i+1] + x[2i+1] cos[2i]
// x [batch, seq, heads, head_dim]; cos and sin broadcast to it ([1, seq, 1, head_dim], each frequency
// repeated twice). Computed in fp32, returned in x's dtype and shape. CPU tensors run the fused CPU kernel, which
// writes a 4-D result head-major in memory ([batch, heads, seq, head_dim], seen as x's shape), the layout ATen's
// CPU attention kernel wants for q and k; CUDA tensors the CUDA kernel (when built with it; contiguous); the rest,
// and anything autograd records, the reference (contiguous).
at::Tensor apply_rotary_embedding(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// The same in plain ATen (pairs unflattened, rotated, stacked back): the kernels' contract.
at::Tensor apply_rotary_embedding_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace tessera
