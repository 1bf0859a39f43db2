#include "kernels/rms_norm.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "kernels/cpu_kernels.h"
#include "kernels/row_offsets.h"

namespace tessera {

at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return at::rms_norm(x, {x.size(-1)}, weight, eps);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  TESSERA_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1), "rms_norm: weight ",
                weight.sizes(), " does not match the last dim of x ", x.sizes());
  const bool kernel = kernels_take(x, weight) && x.is_cpu() && x.scalar_type() == at::kFloat &&
                      weight.scalar_type() == at::kFloat;
  if (!kernel) return rms_norm_reference(x, weight, eps);
  at::Tensor output = at::empty(x.sizes(), x.options());
  cpu_kernels::rms_norm(row_operand(x, x.sizes(), "rms_norm x"), weight.contiguous(), static_cast<float>(eps), output);
  return output;
}

}  // namespace tessera
