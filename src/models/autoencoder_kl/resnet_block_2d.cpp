#include "src/models/autoencoder_kl/resnet_block_2d.h"

#include <ATen/ATen.h>

namespace tessera::autoencoder_kl {

namespace {
constexpr double kEps = 1e-6;  // the decoder's resnet_eps
}  // namespace

ResnetBlock2D::ResnetBlock2D(int64_t in_channels, int64_t out_channels, int64_t groups) {
  norm1_ = register_module("norm1", std::make_shared<GroupNorm>(groups, in_channels, kEps));
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, out_channels, 3, 1, 1));
  norm2_ = register_module("norm2", std::make_shared<GroupNorm>(groups, out_channels, kEps));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out_channels, out_channels, 3, 1, 1));
  if (in_channels != out_channels) {
    conv_shortcut_ = register_module("conv_shortcut", std::make_shared<Conv2d>(in_channels, out_channels, 1));
  }
}

at::Tensor ResnetBlock2D::forward(const at::Tensor& x, const RowBands& rows) const {
  // The norms return fresh tensors, so SiLU runs in place and no second copy of the activations is made.
  at::Tensor normed = norm1_->forward(x, rows);
  at::Tensor h = conv1_->forward(at::silu_(normed), rows);
  normed = norm2_->forward(h, rows);
  h = conv2_->forward(at::silu_(normed), rows);
  return conv_shortcut_ ? conv_shortcut_->forward(x, rows).add_(h) : h.add_(x);
}

}  // namespace tessera::autoencoder_kl
