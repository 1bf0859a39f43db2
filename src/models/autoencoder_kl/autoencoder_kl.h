#pragma once
// The decoding half of diffusers' AutoencoderKL (FLUX.1's and Stable Diffusion's image VAE): "decoder" and,
// when the config asks for it, the 1x1 "post_quant_conv" before it, named as in a vae/
// diffusion_pytorch_model.safetensors so that file loads unchanged (its encoder half is left unread).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>

#include "src/models/autoencoder_kl/autoencoder_kl_config.h"
#include "src/models/autoencoder_kl/decoder.h"
#include "src/models/vae/conv2d.h"
#include "src/models/vae/row_bands.h"

namespace tessera::autoencoder_kl {

class AutoencoderKL : public torch::nn::Module {
 public:
  explicit AutoencoderKL(const AutoencoderKlConfig& config);

  // Latents z [B, latent_channels, h, W] (already de-normalised) -> pixels [B, out_channels, h * scale,
  // W * scale], unclamped, as diffusers' decode. With a split `rows`, z is this rank's band of latent rows and so
  // is the result.
  at::Tensor decode(const at::Tensor& z, const RowBands& rows = {}) const;

  const AutoencoderKlConfig& config() const { return config_; }

 private:
  AutoencoderKlConfig config_;
  std::shared_ptr<Conv2d> post_quant_conv_;  // null when use_post_quant_conv is false (FLUX)
  std::shared_ptr<Decoder> decoder_;
};

}  // namespace tessera::autoencoder_kl
