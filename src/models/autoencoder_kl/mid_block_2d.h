#pragma once
// diffusers' UNetMidBlock2D as the VAE decoder builds it: "resnets.0", then "attentions.0" (unless
// mid_block_add_attention is false) and "resnets.1".
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>

#include "src/models/autoencoder_kl/mid_block_attention.h"
#include "src/models/autoencoder_kl/resnet_block_2d.h"

namespace tessera::autoencoder_kl {

class MidBlock2D : public torch::nn::Module {
 public:
  MidBlock2D(int64_t channels, int64_t groups, bool add_attention);
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  std::shared_ptr<ResnetBlock2D> first_, second_;
  std::shared_ptr<MidBlockAttention> attention_;  // null without attention
};

}  // namespace tessera::autoencoder_kl
