#pragma once
// AutoencoderKLWan's configuration (the Wan 2.1 VAE, and Wan2.2's with is_residual and patch_size), read from a
// diffusers vae/config.json with the same keys.
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
  int64_t in_channels;   // of the encoder's input: pixel channels x patch_size^2
  int64_t out_channels;  // of the decoder's output, likewise
  bool is_residual = false;  // Wan2.2: residual down/up blocks with the averaging / duplicating shortcuts
  int64_t patch_size = 1;    // pixels folded into channels before the encoder, unfolded after the decoder; null: 1

  // Pixels per latent cell along height/width (2 per spatial downsample, times patch_size) and frames per latent
  // frame after the first (2 per temporal downsample).
  int64_t spatial_scale() const;
  int64_t temporal_scale() const;
  // The channels of the videos encoded and decoded (in_channels / out_channels before the patches fold in).
  int64_t video_in_channels() const;
  int64_t video_out_channels() const;
};

// `source` names the file in errors. Required: base_dim, z_dim, dim_mult, num_res_blocks, temperal_downsample,
// latents_mean, latents_std (a real Wan vae/config.json has them all; a default could silently build another
// model). Optional with diffusers' defaults: decoder_base_dim, attn_scales ([] only), dropout, in_channels,
// out_channels, is_residual, patch_size (null or a positive integer dividing the channels' patches),
// scale_factor_spatial / scale_factor_temporal (checked against what the layout gives). Layouts diffusers would
// not build (a residual shortcut whose channels do not divide) are errors, as are unknown keys.
WanVaeConfig wan_vae_config_from_json(const nlohmann::json& config, const std::string& source);

}  // namespace tessera
