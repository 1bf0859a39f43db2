#include "kernels/modulated_layer_norm.h"

#include <ATen/ATen.h>

#include <vector>

#include "common/check.h"
#include "kernels/cpu_kernels.h"
#include "kernels/cuda_architectures.h"
#include "kernels/cuda_kernels.h"
#include "kernels/row_offsets.h"

namespace tessera {

at::Tensor modulated_layer_norm_reference(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                          double eps, Rounding rounding) {
  const std::vector<int64_t> normalized{x.size(-1)};
  if (rounding == Rounding::per_op) {
    return at::layer_norm(x, normalized, std::nullopt, std::nullopt, eps) * (1 + scale) + shift;
  }
  const at::Tensor normed = at::layer_norm(x.to(at::kFloat), normalized, std::nullopt, std::nullopt, eps);
  return (normed * (1 + scale.to(at::kFloat)) + shift.to(at::kFloat)).to(x.scalar_type());
}

at::Tensor modulated_layer_norm(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, double eps,
                                Rounding rounding) {
  TESSERA_CHECK(x.dim() >= 1 && x.size(-1) > 0, "modulated_layer_norm needs x [..., channels], got ", x.sizes());
  // Per op on mixed dtypes is the op sequence with its type promotion: the reference itself.
  const bool one_dtype = scale.scalar_type() == x.scalar_type() && shift.scalar_type() == x.scalar_type();
  if (!kernels_take(x, scale, shift) || (rounding == Rounding::per_op && !one_dtype)) {
    return modulated_layer_norm_reference(x, scale, shift, eps, rounding);
  }
  if (x.is_cpu()) {
    at::Tensor output = at::empty(x.sizes(), x.options());
    cpu_kernels::modulated_layer_norm(row_operand(x, x.sizes(), "modulated_layer_norm x"),
                                      row_operand(scale, x.sizes(), "modulated_layer_norm scale"),
                                      row_operand(shift, x.sizes(), "modulated_layer_norm shift"),
                                      static_cast<float>(eps), rounding, output);
    return output;
  }
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(x.device())) return modulated_layer_norm_cuda(x, scale, shift, eps, rounding);
#endif
  return modulated_layer_norm_reference(x, scale, shift, eps, rounding);
}

}  // namespace tessera
