#include "kernels/gated_residual.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "kernels/cpu_kernels.h"
#include "kernels/cuda_architectures.h"
#include "kernels/cuda_kernels.h"
#include "kernels/row_offsets.h"

namespace tessera {

at::Tensor gated_residual_reference(const at::Tensor& residual, const at::Tensor& gate, const at::Tensor& y,
                                    Rounding rounding) {
  if (rounding == Rounding::per_op) return residual + gate * y;
  return (residual.to(at::kFloat) + y.to(at::kFloat) * gate.to(at::kFloat)).to(residual.scalar_type());
}

at::Tensor gated_residual(const at::Tensor& residual, const at::Tensor& gate, const at::Tensor& y, Rounding rounding) {
  TESSERA_CHECK(residual.dim() >= 1 && residual.size(-1) > 0, "gated_residual needs a residual [..., channels], got ",
                residual.sizes());
  TESSERA_CHECK(y.sizes() == residual.sizes(), "gated_residual: y ", y.sizes(), " must have the residual's shape ",
                residual.sizes());
  // Per op on mixed dtypes is the op sequence with its type promotion: the reference itself.
  const bool one_dtype = gate.scalar_type() == residual.scalar_type() && y.scalar_type() == residual.scalar_type();
  if (!kernels_take(residual, gate, y) || (rounding == Rounding::per_op && !one_dtype)) {
    return gated_residual_reference(residual, gate, y, rounding);
  }
  if (residual.is_cpu()) {
    at::Tensor output = at::empty(residual.sizes(), residual.options());
    cpu_kernels::gated_residual(row_operand(residual, residual.sizes(), "gated_residual residual"),
                                row_operand(gate, residual.sizes(), "gated_residual gate"),
                                row_operand(y, residual.sizes(), "gated_residual y"), rounding, output);
    return output;
  }
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(residual.device())) return gated_residual_cuda(residual, gate, y, rounding);
#endif
  return gated_residual_reference(residual, gate, y, rounding);
}

}  // namespace tessera
