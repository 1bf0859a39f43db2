#pragma once
// diffusers' Decoder (vae.py) with group norms: conv_in, mid_block, up_blocks (deepest level first),
// conv_norm_out, SiLU, conv_out. The rows may be one band of a split decode (row_bands.h).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "src/models/autoencoder_kl/autoencoder_kl_config.h"
#include "src/models/autoencoder_kl/mid_block_2d.h"
#include "src/models/autoencoder_kl/up_decoder_block_2d.h"
#include "src/models/vae/conv2d.h"
#include "src/models/vae/group_norm.h"

namespace tessera::autoencoder_kl {

class Decoder : public torch::nn::Module {
 public:
  explicit Decoder(const AutoencoderKlConfig& config);
  // z [B, latent_channels, h, W] -> [B, out_channels, h * scale, W * scale].
  at::Tensor forward(const at::Tensor& z, const RowBands& rows) const;

 private:
  std::shared_ptr<Conv2d> conv_in_, conv_out_;
  std::shared_ptr<MidBlock2D> mid_block_;
  std::vector<std::shared_ptr<UpDecoderBlock2D>> up_blocks_;
  std::shared_ptr<GroupNorm> conv_norm_out_;
};

}  // namespace tessera::autoencoder_kl
