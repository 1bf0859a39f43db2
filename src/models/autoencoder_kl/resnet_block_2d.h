#pragma once
// diffusers' ResnetBlock2D as the VAE decoder builds it (no time embedding, eps 1e-6, output scale 1):
// norm1 (GroupNorm), SiLU, conv1, norm2, SiLU, conv2, plus the input, through a 1x1 "conv_shortcut" when the
// channel count changes. The rows may be one band of a split decode (row_bands.h).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>

#include "src/models/vae/conv2d.h"
#include "src/models/vae/group_norm.h"
#include "src/models/vae/row_bands.h"

namespace tessera::autoencoder_kl {

class ResnetBlock2D : public torch::nn::Module {
 public:
  ResnetBlock2D(int64_t in_channels, int64_t out_channels, int64_t groups);
  // x [B, in, h, W] -> [B, out, h, W].
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  std::shared_ptr<GroupNorm> norm1_, norm2_;
  std::shared_ptr<Conv2d> conv1_, conv2_, conv_shortcut_;
};

}  // namespace tessera::autoencoder_kl
