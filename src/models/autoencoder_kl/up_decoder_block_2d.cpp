#include "src/models/autoencoder_kl/up_decoder_block_2d.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

namespace tessera::autoencoder_kl {

UpDecoderBlock2D::UpDecoderBlock2D(int64_t in_channels, int64_t out_channels, int64_t resnets, int64_t groups,
                                   bool upsample) {
  auto list = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < resnets; ++i) {
    resnets_.push_back(std::make_shared<ResnetBlock2D>(i == 0 ? in_channels : out_channels, out_channels, groups));
    list->push_back(resnets_.back());
  }
  if (upsample) {
    // Upsample2D holds its Conv2d as "conv" and no parameters of its own.
    auto upsampler = std::make_shared<torch::nn::Module>();
    upsample_conv_ = upsampler->register_module("conv", std::make_shared<Conv2d>(out_channels, out_channels, 3, 1, 1));
    register_module("upsamplers", torch::nn::ModuleList())->push_back(upsampler);
  }
}

at::Tensor UpDecoderBlock2D::forward(const at::Tensor& x, const RowBands& rows) const {
  at::Tensor h = x;
  for (const auto& resnet : resnets_) h = resnet->forward(h, rows);
  if (!upsample_conv_) return h;
  // F.interpolate(scale_factor=2.0, mode="nearest"), as diffusers' Upsample2D calls it.
  const at::Tensor doubled = at::upsample_nearest2d(h, {2 * h.size(2), 2 * h.size(3)}, 2.0, 2.0);
  h = at::Tensor();
  return upsample_conv_->forward(doubled, rows);
}

}  // namespace tessera::autoencoder_kl
