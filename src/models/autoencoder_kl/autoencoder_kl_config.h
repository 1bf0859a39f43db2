#pragma once
// AutoencoderKL's configuration (FLUX.1's and Stable Diffusion's image VAE), read from a diffusers
// vae/config.json with the same keys. Only what the decoder and the pipelines' de-normalisation use is kept.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

struct AutoencoderKlConfig {
  int64_t latent_channels;
  int64_t out_channels;
  std::vector<int64_t> block_out_channels;  // shallowest level first, as diffusers lists them
  int64_t layers_per_block;                 // the decoder's up blocks hold one more resnet than this
  int64_t norm_num_groups;
  double scaling_factor;
  std::optional<double> shift_factor;  // FLUX: 0.1159; Stable Diffusion: null
  bool use_post_quant_conv;
  bool mid_block_add_attention;

  // Pixels per latent cell along height and width: 2 per upsampling level.
  int64_t spatial_scale() const;
};

// `source` names the file in errors. Required: block_out_channels, latent_channels (a real vae/config.json has
// them; a default could silently build another model). Optional with diffusers' defaults: in_channels,
// out_channels, layers_per_block (1), norm_num_groups (32), scaling_factor (0.18215), shift_factor (null),
// use_post_quant_conv / use_quant_conv (true), mid_block_add_attention (true), act_fn ("silu" only),
// up_block_types / down_block_types (the plain UpDecoderBlock2D / DownEncoderBlock2D, one per level),
// latents_mean / latents_std (null only: the pipelines tessera runs de-normalise with the scaling and shift
// factors), sample_size and force_upcast (unused). Unknown keys are errors.
AutoencoderKlConfig autoencoder_kl_config_from_json(const nlohmann::json& config, const std::string& source);

}  // namespace tessera
