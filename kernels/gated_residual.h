#pragma once
// The gated residual of adaLN blocks fused into one pass: residual + gate * y, where the op sequence makes two
// (three with Wan's casts) and a temporary of the block's size.
#include <ATen/core/Tensor.h>

#include "kernels/rounding.h"

namespace tessera {

// out = residual + gate * y, in residual's dtype and shape (contiguous). y has residual's shape; gate broadcasts
// to it (Wan's [B, 1, C] or per-token [B, S, C], FLUX's [B, 1, C]). Rounding::once: fp32 math, one cast (Wan,
// whose gates are fp32); Rounding::per_op: the product rounded to the residual's dtype before the sum (FLUX; a
// gate or y in another dtype makes it the op sequence itself, type promotion included). CPU tensors run the CPU
// kernel, CUDA tensors the CUDA kernel (when built with it); other dtypes and devices, and anything autograd
// records, the reference.
at::Tensor gated_residual(const at::Tensor& residual, const at::Tensor& gate, const at::Tensor& y, Rounding rounding);

// The op sequence in plain ATen, what the models ran before the kernel: the kernels' contract.
at::Tensor gated_residual_reference(const at::Tensor& residual, const at::Tensor& gate, const at::Tensor& y,
                                    Rounding rounding);

}  // namespace tessera
