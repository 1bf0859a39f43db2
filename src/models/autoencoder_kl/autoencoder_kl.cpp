#include "src/models/autoencoder_kl/autoencoder_kl.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "common/check.h"

namespace tessera::autoencoder_kl {

AutoencoderKL::AutoencoderKL(const AutoencoderKlConfig& config) : config_(config) {
  decoder_ = register_module("decoder", std::make_shared<Decoder>(config));
  if (config.use_post_quant_conv) {
    post_quant_conv_ = register_module("post_quant_conv",
                                       std::make_shared<Conv2d>(config.latent_channels, config.latent_channels, 1));
  }
}

at::Tensor AutoencoderKL::decode(const at::Tensor& z, const RowBands& rows) const {
  TESSERA_CHECK(z.dim() == 4 && z.size(1) == config_.latent_channels, "AutoencoderKL.decode: latents must be [B, ",
                "latent_channels = ", config_.latent_channels, ", height, width], got ", z.sizes());
  torch::NoGradGuard no_grad;
  return decoder_->forward(post_quant_conv_ ? post_quant_conv_->forward(z, rows) : z, rows);
}

}  // namespace tessera::autoencoder_kl
