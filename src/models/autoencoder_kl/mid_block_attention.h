#pragma once
// diffusers' Attention as UNetMidBlock2D builds it for the VAE: one head over every pixel of the image, a
// GroupNorm ("group_norm") first, Linear "to_q", "to_k", "to_v" and "to_out.0" over the channels, and the input
// added back. In a split decode each rank attends from its band's pixels to the whole image's keys and values,
// gathered from every band.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>

#include "src/models/layers.h"
#include "src/models/vae/group_norm.h"
#include "src/models/vae/row_bands.h"

namespace tessera::autoencoder_kl {

class MidBlockAttention : public torch::nn::Module {
 public:
  MidBlockAttention(int64_t channels, int64_t groups);
  // x [B, C, h, W] -> the same shape.
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  std::shared_ptr<GroupNorm> group_norm_;
  std::shared_ptr<Linear> to_q_, to_k_, to_v_, to_out_;
};

}  // namespace tessera::autoencoder_kl
