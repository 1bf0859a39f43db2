#pragma once
// RMSNorm with a learned weight (torch.nn.RMSNorm: Wan's q and k norms across heads, FLUX's per head) in two
// passes over each row, where ATen's CPU op took 2.4x the time of a layer norm of the same size (4096 x 1536 fp32,
// one thread: 15 ms against 6.5 ms).
#include <ATen/core/Tensor.h>

namespace tessera {

// x * rsqrt(mean(x^2) + eps) * weight over the last dim of x [..., C], weight [C]; in x's shape (contiguous). fp32
// CPU tensors run the CPU kernel (fp32 sums of squares in vector lanes; within a few ulp of at::rms_norm); other
// dtypes and devices, and anything autograd records, the reference.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// at::rms_norm: the kernel's contract.
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace tessera
