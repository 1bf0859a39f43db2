#include "src/models/layers.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/dropout.h>

namespace tessera {
namespace {

// The GELU projection that diffusers nests as net.0 with its Linear under "proj".
class GeluProjection : public torch::nn::Module {
 public:
  GeluProjection(int64_t in_features, int64_t out_features) {
    proj = register_module("proj", torch::nn::Linear(in_features, out_features));
  }
  torch::nn::Linear proj{nullptr};
};

}  // namespace

Fp32LayerNorm::Fp32LayerNorm(int64_t dim, double eps, bool elementwise_affine) : dim_(dim), eps_(eps) {
  if (elementwise_affine) {
    weight_ = register_parameter("weight", at::ones({dim}));
    bias_ = register_parameter("bias", at::zeros({dim}));
  }
}

at::Tensor Fp32LayerNorm::forward(const at::Tensor& x) const {
  const auto as_float = [](const at::Tensor& t) -> std::optional<at::Tensor> {
    if (!t.defined()) return std::nullopt;
    return t.to(at::kFloat);
  };
  return at::layer_norm(x.to(at::kFloat), {dim_}, as_float(weight_), as_float(bias_), eps_).to(x.scalar_type());
}

RmsNorm::RmsNorm(int64_t dim, double eps) : dim_(dim), eps_(eps) {
  weight_ = register_parameter("weight", at::ones({dim}));
}

at::Tensor RmsNorm::forward(const at::Tensor& x) const { return at::rms_norm(x, {dim_}, weight_, eps_); }

HookableLinear::HookableLinear(int64_t in_features, int64_t out_features) {
  torch::nn::Linear initialised(in_features, out_features);  // torch's default initialisation
  weight_ = register_parameter("weight", initialised->weight.detach().clone());
  bias_ = register_parameter("bias", initialised->bias.detach().clone());
}

Outputs HookableLinear::forward_impl(Args& args) { return {at::linear(args.tensor("hidden_states"), weight_, bias_)}; }

FeedForward::FeedForward(int64_t dim, int64_t inner_dim) {
  auto net = register_module("net", torch::nn::ModuleList());
  auto gelu = std::make_shared<GeluProjection>(dim, inner_dim);
  project_in_ = gelu->proj;
  net->push_back(gelu);
  net->push_back(torch::nn::Dropout(0.0));
  project_out_ = torch::nn::Linear(inner_dim, dim);
  net->push_back(project_out_);
}

Outputs FeedForward::forward_impl(Args& args) {
  return {project_out_(at::gelu(project_in_(args.tensor("hidden_states")), "tanh"))};
}

}  // namespace tessera
