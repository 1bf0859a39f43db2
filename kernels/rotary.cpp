#include "kernels/rotary.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "kernels/cpu_kernels.h"
#include "kernels/cuda_architectures.h"
#include "kernels/cuda_kernels.h"
#include "kernels/row_offsets.h"

namespace tessera {

at::Tensor apply_rotary_embedding_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const at::Tensor pairs = x.to(at::kFloat).unflatten(-1, {-1, 2});
  const at::Tensor even = pairs.select(-1, 0), odd = pairs.select(-1, 1);
  const at::Tensor cos_even = cos.to(at::kFloat).slice(-1, 0, c10::nullopt, 2);
  const at::Tensor sin_odd = sin.to(at::kFloat).slice(-1, 1, c10::nullopt, 2);
  const at::Tensor rotated = at::stack({even * cos_even - odd * sin_odd, even * sin_odd + odd * cos_even}, -1);
  return rotated.flatten(-2).to(x.scalar_type());
}

namespace {

// x's shape; a 4-D x [batch, seq, heads, head_dim] gets [batch, heads, seq, head_dim] memory, whose rows ATen's CPU
// flash kernel takes without a copy (kernels/attention.cpp).
at::Tensor empty_head_major(const at::Tensor& x) {
  if (x.dim() != 4) return at::empty(x.sizes(), x.options());
  return at::empty({x.size(0), x.size(2), x.size(1), x.size(3)}, x.options()).transpose(1, 2);
}

}  // namespace

at::Tensor apply_rotary_embedding(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  TESSERA_CHECK(x.dim() >= 1 && x.size(-1) % 2 == 0, "rotary embedding needs an even head_dim, got ", x.sizes());
  if (!kernels_take(x, cos, sin)) return apply_rotary_embedding_reference(x, cos, sin);
  if (x.is_cpu()) {
    at::Tensor output = empty_head_major(x);
    const RowOperand output_rows = row_operand(output, x.sizes(), "rotary output");
    TESSERA_INTERNAL_ASSERT(output_rows.tensor.data_ptr() == output.data_ptr(), "rotary output rows not in place");
    cpu_kernels::apply_rotary_embedding(row_operand(x, x.sizes(), "rotary x"), row_operand(cos, x.sizes(), "rotary cos"),
                                        row_operand(sin, x.sizes(), "rotary sin"), output_rows.rows, output);
    return output;
  }
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(x.device())) return apply_rotary_embedding_cuda(x, cos, sin);
#endif
  return apply_rotary_embedding_reference(x, cos, sin);
}

}  // namespace tessera
