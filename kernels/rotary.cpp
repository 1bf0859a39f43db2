#include "kernels/rotary.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera {

at::Tensor apply_rotary_embedding(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  TESSERA_CHECK(x.size(-1) % 2 == 0, "rotary embedding needs an even head_dim, got ", x.size(-1));
  const at::Tensor pairs = x.to(at::kFloat).unflatten(-1, {-1, 2});
  const at::Tensor even = pairs.select(-1, 0), odd = pairs.select(-1, 1);
  const at::Tensor cos_even = cos.to(at::kFloat).slice(-1, 0, c10::nullopt, 2);
  const at::Tensor sin_odd = sin.to(at::kFloat).slice(-1, 1, c10::nullopt, 2);
  const at::Tensor rotated = at::stack({even * cos_even - odd * sin_odd, even * sin_odd + odd * cos_even}, -1);
  return rotated.flatten(-2).to(x.scalar_type());
}

}  // namespace tessera
