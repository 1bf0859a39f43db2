#pragma once
// GELU with the tanh approximation, in place: the feed-forwards' activation, on their largest tensor (tokens x ffn).
#include <ATen/core/Tensor.h>

namespace tessera {

// x = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) in place, as at::gelu_(x, "tanh"); returns x. A contiguous
// fp32 CPU tensor runs the CPU kernel: the tanh by ATen's tanh op (a vector math library's where ATen has one) on
// chunks that stay in the core's cache between the passes, a few ulp from at::gelu_, whose own vectorised tanh is the
// slow part (4096 x 8960 values, one thread: at::gelu_ 0.066 s, at::tanh_ alone 0.024 s, this kernel 0.032 s). Other
// dtypes, devices and layouts, and anything autograd records, run the reference.
at::Tensor& gelu_tanh_(at::Tensor& x);

// at::gelu_(x, "tanh"): the kernel's contract.
at::Tensor& gelu_tanh_reference_(at::Tensor& x);

}  // namespace tessera
