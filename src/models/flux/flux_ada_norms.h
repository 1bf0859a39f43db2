#pragma once
// diffusers' adaptive layer norms as FLUX uses them: a LayerNorm without parameters (eps 1e-6), modulated by
// vectors that "linear" projects from SiLU(temb). Parameter names as diffusers' ("linear.weight", ...).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>

#include "src/models/layers.h"

namespace tessera {

// AdaLayerNormZero (norm1, norm1_context): six vectors; the attention input is modulated here, the rest are
// returned for the block.
class AdaLayerNormZero : public torch::nn::Module {
 public:
  struct Result {
    at::Tensor normed;  // norm(x) * (1 + scale_msa) + shift_msa
    at::Tensor gate_msa, shift_mlp, scale_mlp, gate_mlp;  // [B, dim] each
  };
  explicit AdaLayerNormZero(int64_t dim);
  Result forward(const at::Tensor& x, const at::Tensor& temb) const { return apply(x, modulation(temb)); }
  // The six vectors [B, 6 * dim] of `temb`: the linear projection of SiLU(temb).
  at::Tensor modulation(const at::Tensor& temb) const;
  // The norm with the vectors modulation() gave; `normed`, when given, is the attention input already computed
  // from the same x and vectors.
  Result apply(const at::Tensor& x, const at::Tensor& modulation, const at::Tensor* normed = nullptr) const;

 private:
  std::shared_ptr<Linear> linear_;
};

// AdaLayerNormZeroSingle (single_transformer_blocks.N.norm): three vectors, shift, scale and gate.
class AdaLayerNormZeroSingle : public torch::nn::Module {
 public:
  struct Result {
    at::Tensor normed;
    at::Tensor gate;  // [B, dim]
  };
  explicit AdaLayerNormZeroSingle(int64_t dim);
  Result forward(const at::Tensor& x, const at::Tensor& temb) const;

 private:
  std::shared_ptr<Linear> linear_;
};

// AdaLayerNormContinuous (norm_out): scale then shift (the reverse of the Zero norms' order).
class AdaLayerNormContinuous : public torch::nn::Module {
 public:
  AdaLayerNormContinuous(int64_t dim, int64_t conditioning_dim);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& conditioning) const;

 private:
  std::shared_ptr<Linear> linear_;
};

// norm(x) * (1 + scale) + shift with x [B, S, dim] and scale, shift [B, dim]; the LayerNorm that FLUX's blocks
// use without parameters (norm2, norm2_context), in x's dtype and rounded after each op as diffusers' ops are
// (kernels/modulated_layer_norm with Rounding::per_op).
at::Tensor flux_modulated_norm(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift);

}  // namespace tessera
