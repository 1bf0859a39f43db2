#pragma once
// GELU with the tanh approximation, in place: the feed-forwards' activation, on their largest tensor (tokens x ffn).
#include <ATen/core/Tensor.h>

namespace tessera {

// x = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) in place, as at::gelu_(x, "tanh"); returns x. A contiguous
// fp32 CPU tensor runs the CPU kernel: the tanh by ATen's own tanh op (which uses a vector math library where ATen
// has one; the tanh inside ATen's gelu kernel took 2x the time of the whole kernel on this machine's CPU) on chunks
// that stay in the core's cache between the passes; a few ulp from at::gelu_. Other dtypes, devices and layouts,
// and anything autograd records, run the reference.
at::Tensor& gelu_tanh_(at::Tensor& x);

// at::gelu_(x, "tanh"): the kernel's contract.
at::Tensor& gelu_tanh_reference_(at::Tensor& x);

}  // namespace tessera
