#include "src/models/autoencoder_kl/mid_block_2d.h"

#include <torch/nn/modules/container/modulelist.h>

namespace tessera::autoencoder_kl {

MidBlock2D::MidBlock2D(int64_t channels, int64_t groups, bool add_attention) {
  first_ = std::make_shared<ResnetBlock2D>(channels, channels, groups);
  second_ = std::make_shared<ResnetBlock2D>(channels, channels, groups);
  auto resnets = register_module("resnets", torch::nn::ModuleList());
  resnets->push_back(first_);
  resnets->push_back(second_);
  if (add_attention) {
    attention_ = std::make_shared<MidBlockAttention>(channels, groups);
    register_module("attentions", torch::nn::ModuleList())->push_back(attention_);
  }
}

at::Tensor MidBlock2D::forward(const at::Tensor& x, const RowBands& rows) const {
  const at::Tensor h = first_->forward(x, rows);
  return second_->forward(attention_ ? attention_->forward(h, rows) : h, rows);
}

}  // namespace tessera::autoencoder_kl
