#include "kernels/gelu.h"

#include <ATen/ATen.h>

#include "kernels/cpu_kernels.h"
#include "kernels/row_offsets.h"

namespace tessera {

at::Tensor& gelu_tanh_reference_(at::Tensor& x) { return at::gelu_(x, "tanh"); }

at::Tensor& gelu_tanh_(at::Tensor& x) {
  if (!kernels_take(x) || !x.is_cpu() || x.scalar_type() != at::kFloat || !x.is_contiguous()) {
    return gelu_tanh_reference_(x);
  }
  cpu_kernels::gelu_tanh(x.mutable_data_ptr<float>(), x.numel());
  return x;
}

}  // namespace tessera
