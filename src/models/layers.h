#pragma once
// Small building blocks with diffusers' parameter names, shared by the models.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <array>
#include <memory>

#include "hooks/module.h"
#include "kernels/packed_linear.h"

namespace tessera {

// torch.nn.Linear: "weight" [out, in] and, unless `bias` is false, "bias" [out], made through parameters.h (so a
// model built for loading holds no memory until its weights arrive) with torch's default initialisation.
// Hookable, so plans and hooks can target any linear layer ("proj_out" gathers its output under context
// parallelism; a LoRA in hooks mode adds its update): hidden_states -> output 0. `forward` goes straight to the
// product (through a packed weight for fp32 on the CPU) unless a hook registry was ever created for the layer.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  at::Tensor forward(const at::Tensor& x);
  const at::Tensor& weight() const { return weight_; }
  const PackedLinearWeight& packed_weight() const { return packed_weight_; }
  void release_packed_weight() { packed_weight_.release(); }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  at::Tensor weight_, bias_;
  PackedLinearWeight packed_weight_;  // the hook-free path's fp32 CPU products (kernels/packed_linear.h)
};

// Frees every Linear's packed weight in `model` (kernels/packed_linear.h): the memory goes with the weights when a
// model is parked or unloaded.
void release_packed_weights(torch::nn::Module& model);

// torch.nn.Conv3d whose kernel is its stride, "weight" [out, in, *patch] and "bias" [out]: the patch embedding.
// forward gives the patches as tokens, [batch, frames x height x width (in patches), out], the layout the blocks
// take: one matrix product of the patches laid out as rows, so that no [batch, out, tokens] result is transposed
// into place (ATen's transposing copy took 16 ms of a 2.1 s forward at 1536 tokens, once per rank under Ulysses).
class PatchEmbedding3d : public torch::nn::Module {
 public:
  PatchEmbedding3d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 3> patch);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  std::array<int64_t, 3> patch_;
  at::Tensor weight_, bias_;
};

// LayerNorm computed in fp32 whatever the input dtype (diffusers FP32LayerNorm); parameters "weight" and
// "bias" exist only when elementwise-affine.
class Fp32LayerNorm : public torch::nn::Module {
 public:
  Fp32LayerNorm(int64_t dim, double eps, bool elementwise_affine);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  int64_t dim_;
  double eps_;
  at::Tensor weight_, bias_;
};

// RMSNorm with a learned "weight" (torch.nn.RMSNorm), by the kernel (kernels/rms_norm.h).
class RmsNorm : public torch::nn::Module {
 public:
  RmsNorm(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  double eps_;
  at::Tensor weight_;
};

// diffusers' FeedForward: net.0.proj (Linear + GELU), net.1 (dropout, nothing at inference), net.2 (Linear to
// `out_dim`, 0: back to `dim`). Activation "gelu-approximate" (tanh) by default, or "gelu" (exact).
// hidden_states -> output 0.
enum class GeluApproximation { tanh, none };

// GELU of a projection's fresh output: in place where no other tensor or view holds `x` (it saves a block as large
// as x, and a pass writing it), else into a new tensor. `approximate` is "tanh" or "none", as at::gelu takes it.
at::Tensor gelu_of_fresh(at::Tensor x, const char* approximate);

class FeedForward : public Module {
 public:
  FeedForward(int64_t dim, int64_t inner_dim, GeluApproximation gelu = GeluApproximation::tanh, int64_t out_dim = 0);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  std::shared_ptr<Linear> project_in_, project_out_;
  const char* approximate_;
};

}  // namespace tessera
