#include "src/models/flux/flux_ada_norms.h"

#include <ATen/ATen.h>

#include "kernels/modulated_layer_norm.h"

namespace tessera {
namespace {

constexpr double kEps = 1e-6;

}  // namespace

at::Tensor flux_modulated_norm(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift) {
  return modulated_layer_norm(x, scale.unsqueeze(1), shift.unsqueeze(1), kEps, Rounding::per_op);
}

AdaLayerNormZero::AdaLayerNormZero(int64_t dim) {
  linear_ = register_module("linear", std::make_shared<Linear>(dim, 6 * dim));
}

at::Tensor AdaLayerNormZero::modulation(const at::Tensor& temb) const { return linear_->forward(at::silu(temb)); }

AdaLayerNormZero::Result AdaLayerNormZero::apply(const at::Tensor& x, const at::Tensor& modulation,
                                                 const at::Tensor* normed) const {
  const auto m = modulation.chunk(6, 1);
  return {.normed = normed != nullptr ? *normed : flux_modulated_norm(x, m[1], m[0]),
          .gate_msa = m[2],
          .shift_mlp = m[3],
          .scale_mlp = m[4],
          .gate_mlp = m[5]};
}

AdaLayerNormZeroSingle::AdaLayerNormZeroSingle(int64_t dim) {
  linear_ = register_module("linear", std::make_shared<Linear>(dim, 3 * dim));
}

AdaLayerNormZeroSingle::Result AdaLayerNormZeroSingle::forward(const at::Tensor& x, const at::Tensor& temb) const {
  const auto m = linear_->forward(at::silu(temb)).chunk(3, 1);
  return {.normed = flux_modulated_norm(x, m[1], m[0]), .gate = m[2]};
}

AdaLayerNormContinuous::AdaLayerNormContinuous(int64_t dim, int64_t conditioning_dim) {
  linear_ = register_module("linear", std::make_shared<Linear>(conditioning_dim, 2 * dim));
}

at::Tensor AdaLayerNormContinuous::forward(const at::Tensor& x, const at::Tensor& conditioning) const {
  const auto scale_shift = linear_->forward(at::silu(conditioning).to(x.scalar_type())).chunk(2, 1);
  return flux_modulated_norm(x, scale_shift[0], scale_shift[1]);
}

}  // namespace tessera
