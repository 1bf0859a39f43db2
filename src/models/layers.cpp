#include "src/models/layers.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/dropout.h>

#include <cmath>
#include <string_view>

#include "kernels/gelu.h"
#include "kernels/rms_norm.h"
#include "src/models/parameters.h"

namespace tessera {
namespace {

// The GELU projection that diffusers nests as net.0 with its Linear under "proj".
class GeluProjection : public torch::nn::Module {
 public:
  GeluProjection(int64_t in_features, int64_t out_features) {
    proj = register_module("proj", std::make_shared<Linear>(in_features, out_features));
  }
  std::shared_ptr<Linear> proj;
};

}  // namespace

at::Tensor gelu_of_fresh(at::Tensor x, const char* approximate) {
  const bool ours_alone = x.use_count() == 1 && !x.is_view() && x.storage().use_count() == 1;
  if (!ours_alone) return at::gelu(x, approximate);
  if (std::string_view(approximate) == "tanh") return gelu_tanh_(x);
  at::gelu_(x, approximate);
  return x;
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter("weight", uniform_parameter({out_features, in_features}, bound));
  if (bias) bias_ = register_parameter("bias", uniform_parameter({out_features}, bound));
}

at::Tensor Linear::forward(const at::Tensor& x) {
  if (hook_registry() == nullptr) [[likely]] return packed_weight_.linear(x, weight_, bias_);
  return (*this)({{"hidden_states", x}}).at(0);
}

void release_packed_weights(torch::nn::Module& model) {
  model.apply([](torch::nn::Module& module) {
    if (auto* linear = dynamic_cast<Linear*>(&module)) linear->release_packed_weight();
  });
}

Outputs Linear::forward_impl(Args& args) { return {at::linear(args.tensor("hidden_states"), weight_, bias_)}; }

PatchEmbedding3d::PatchEmbedding3d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 3> patch)
    : patch_(patch) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * patch[0] * patch[1] * patch[2]));
  weight_ = register_parameter("weight",
                               uniform_parameter({out_channels, in_channels, patch[0], patch[1], patch[2]}, bound));
  bias_ = register_parameter("bias", uniform_parameter({out_channels}, bound));
}

at::Tensor PatchEmbedding3d::forward(const at::Tensor& x) const {
  const auto [pf, ph, pw] = patch_;
  const int64_t batch = x.size(0), channels = x.size(1);
  const int64_t frames = x.size(2) / pf, height = x.size(3) / ph, width = x.size(4) / pw;
  // As the convolution: trailing frames or pixels that fill no whole patch are dropped.
  const at::Tensor whole = x.narrow(2, 0, frames * pf).narrow(3, 0, height * ph).narrow(4, 0, width * pw);
  // [batch, channels, frames, pf, height, ph, width, pw] -> [batch, frames, height, width, channels, pf, ph, pw]
  const at::Tensor patches = whole.reshape({batch, channels, frames, pf, height, ph, width, pw})
                                 .permute({0, 2, 4, 6, 1, 3, 5, 7})
                                 .reshape({batch, frames * height * width, channels * pf * ph * pw});
  return at::linear(patches, weight_.reshape({weight_.size(0), -1}), bias_);
}

Fp32LayerNorm::Fp32LayerNorm(int64_t dim, double eps, bool elementwise_affine) : dim_(dim), eps_(eps) {
  if (elementwise_affine) {
    weight_ = register_parameter("weight", constant_parameter({dim}, 1.0));
    bias_ = register_parameter("bias", constant_parameter({dim}, 0.0));
  }
}

at::Tensor Fp32LayerNorm::forward(const at::Tensor& x) const {
  const auto as_float = [](const at::Tensor& t) -> std::optional<at::Tensor> {
    if (!t.defined()) return std::nullopt;
    return t.to(at::kFloat);
  };
  return at::layer_norm(x.to(at::kFloat), {dim_}, as_float(weight_), as_float(bias_), eps_).to(x.scalar_type());
}

RmsNorm::RmsNorm(int64_t dim, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", constant_parameter({dim}, 1.0));
}

at::Tensor RmsNorm::forward(const at::Tensor& x) const { return rms_norm(x, weight_, eps_); }

FeedForward::FeedForward(int64_t dim, int64_t inner_dim, GeluApproximation gelu, int64_t out_dim)
    : approximate_(gelu == GeluApproximation::tanh ? "tanh" : "none") {
  auto net = register_module("net", torch::nn::ModuleList());
  auto projection = std::make_shared<GeluProjection>(dim, inner_dim);
  project_in_ = projection->proj;
  net->push_back(projection);
  net->push_back(torch::nn::Dropout(0.0));
  project_out_ = std::make_shared<Linear>(inner_dim, out_dim > 0 ? out_dim : dim);
  net->push_back(project_out_);
}

Outputs FeedForward::forward_impl(Args& args) {
  return {project_out_->forward(gelu_of_fresh(project_in_->forward(args.tensor("hidden_states")), approximate_))};
}

}  // namespace tessera
