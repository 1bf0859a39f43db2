#pragma once
// adaLN modulation fused with its layer norm: one pass over x for layer_norm(x) * (1 + scale) + shift, the norm
// without affine parameters, where the op sequence makes five passes and four temporaries.
#include <ATen/core/Tensor.h>

#include "kernels/rounding.h"

namespace tessera {

// out = layer_norm(x, eps, no affine) * (1 + scale) + shift over the last dim of x [..., C], in x's dtype and
// shape (contiguous). scale and shift broadcast to x: Wan's [B, 1, C] or per-token [B, S, C], FLUX's [B, 1, C].
// Rounding::once: x taken as fp32, fp32 math, one cast (Wan's norm1, norm3, norm_out with their fp32 tables);
// Rounding::per_op: the norm, 1 + scale, the product and the sum each rounded to x's dtype, as the ops on tensors
// of that dtype do (FLUX; scale or shift in another dtype make it the op sequence itself, type promotion
// included). The kernels' statistics are their own fp32 two-pass ones, so in bf16/half an element can differ
// from ATen's layer_norm by one unit of the dtype where the fp32 value sits on a rounding boundary. CPU tensors
// run the CPU kernel, CUDA tensors the CUDA kernel (when built with it); other dtypes and devices, and anything
// autograd records, the reference.
at::Tensor modulated_layer_norm(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, double eps,
                                Rounding rounding);

// The op sequence itself in plain ATen, what the models ran before the kernel: the kernels' contract.
at::Tensor modulated_layer_norm_reference(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                          double eps, Rounding rounding);

}  // namespace tessera
