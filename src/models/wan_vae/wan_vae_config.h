#pragma once
// AutoencoderKLWan's configuration (the Wan 2.1 VAE), read from a diffusers vae/config.json with the same keys.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct WanVaeConfig {
  int64_t base_dim;
  int64_t decoder_base_dim;  // diffusers' null: base_dim
  int64_t z_dim;
  std::vector<int64_t> dim_mult;
  int64_t num_res_blocks;
  std::vector<bool> temperal_downsample;  // diffusers' spelling; one per level but the last
  std::vector<double> latents_mean;       // z_dim each
  std::vector<double> latents_std;
  int64_t in_channels;
  int64_t out_channels;

  // Pixels per latent cell along height/width (2 per spatial downsample) and frames per latent frame after
  // the first (2 per temporal downsample).
  int64_t spatial_scale() const;
  int64_t temporal_scale() const;
};

// `source` names the file in errors. Required: base_dim, z_dim, dim_mult, num_res_blocks, temperal_downsample,
// latents_mean, latents_std (a real Wan 2.1 vae/config.json has them all; a default could silently build
// another model). Optional with diffusers' defaults: decoder_base_dim, attn_scales ([] only), dropout,
// in_channels, out_channels, is_residual (false only: Wan 2.2's VAE), patch_size (null only),
// scale_factor_spatial / scale_factor_temporal (checked against dim_mult / temperal_downsample). Unknown keys
// are errors.
WanVaeConfig wan_vae_config_from_json(const nlohmann::json& config, const std::string& source);

}  // namespace tessera
