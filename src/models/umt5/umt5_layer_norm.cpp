#include "src/models/umt5/umt5_layer_norm.h"

#include <ATen/ATen.h>

#include "src/models/parameters.h"

namespace tessera {

Umt5LayerNorm::Umt5LayerNorm(int64_t dim, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", constant_parameter({dim}, 1.0));
}

at::Tensor Umt5LayerNorm::forward(const at::Tensor& x) const {
  const at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  return weight_ * (x * at::rsqrt(variance + eps_)).to(weight_.scalar_type());
}

}  // namespace tessera
