#pragma once
// UMT5's feed-forward ("DenseReluDense"), without biases: gated, wo(act(wi_0 x) * wi_1 x) (Wan's "gated-gelu",
// the tanh GELU); plain, wo(act(wi x)).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/layers.h"
#include "src/models/umt5/umt5_config.h"

namespace tessera {

class Umt5FeedForward : public torch::nn::Module {
 public:
  explicit Umt5FeedForward(const Umt5Config& config);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor activate(const at::Tensor& x) const;

  Umt5Activation activation_;
  std::shared_ptr<Linear> wi_, wi_0_, wi_1_, wo_;
};

}  // namespace tessera
