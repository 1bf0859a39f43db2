#pragma once
// diffusers' UpDecoderBlock2D: layers_per_block + 1 resnets ("resnets"), then, on every level but the last, an
// Upsample2D ("upsamplers.0": nearest 2x, then a 3x3 "conv"). Nearest 2x repeats each pixel, so a band's rows
// double in place and a split decode needs no exchange for it.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "src/models/autoencoder_kl/resnet_block_2d.h"
#include "src/models/vae/conv2d.h"

namespace tessera::autoencoder_kl {

class UpDecoderBlock2D : public torch::nn::Module {
 public:
  UpDecoderBlock2D(int64_t in_channels, int64_t out_channels, int64_t resnets, int64_t groups, bool upsample);
  // x [B, in, h, W] -> [B, out, h', W'], twice the size when it upsamples.
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  std::vector<std::shared_ptr<ResnetBlock2D>> resnets_;
  std::shared_ptr<Conv2d> upsample_conv_;  // null on the last level
};

}  // namespace tessera::autoencoder_kl
