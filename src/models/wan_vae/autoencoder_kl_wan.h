#pragma once
// diffusers' AutoencoderKLWan (the Wan 2.1 VAE, and Wan2.2's with is_residual and patch_size): "encoder",
// "quant_conv", "post_quant_conv", "decoder", so that a vae/diffusion_pytorch_model.safetensors loads unchanged.
// With a patch_size the pixels are folded into channels before the encoder and unfolded after the decoder.
// Decoding and encoding run in chunks of frames as diffusers' _decode / _encode do (the causal convolutions carry
// their last frames between chunks), which keeps the activations to one chunk's.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>

#include "src/models/wan_vae/causal_conv3d.h"
#include "src/models/vae/row_bands.h"
#include "src/models/wan_vae/wan_decoder3d.h"
#include "src/models/wan_vae/wan_encoder3d.h"
#include "src/models/wan_vae/wan_vae_config.h"

namespace tessera::wan_vae {

class AutoencoderKLWan : public torch::nn::Module {
 public:
  explicit AutoencoderKLWan(const WanVaeConfig& config);

  // Latents z [B, z_dim, f, h, W] (already de-normalised) -> pixels [B, video_out_channels, 1 + (f - 1) *
  // temporal scale, h * scale, W * scale], clamped to [-1, 1], one latent frame at a time. With a split `rows`, z
  // is this rank's band of latent rows and so is the result.
  at::Tensor decode(const at::Tensor& z, const RowBands& rows = {});
  // Video [B, video_in_channels, F, H, W] in [-1, 1] -> the mean of the posterior, [B, z_dim, f, H / scale,
  // W / scale]: the first frame alone, then four frames at a time. With a split `rows`, the video is this rank's
  // band of pixel rows (its latent rows times the scale) and the result its band of latent rows.
  at::Tensor encode_mean(const at::Tensor& pixels, const RowBands& rows = {});

  const WanVaeConfig& config() const { return config_; }

 private:
  WanVaeConfig config_;
  std::shared_ptr<WanEncoder3d> encoder_;
  std::shared_ptr<WanDecoder3d> decoder_;
  std::shared_ptr<CausalConv3d> quant_conv_, post_quant_conv_;
};

}  // namespace tessera::wan_vae
