#pragma once
// FluxTransformer2DModel's configuration, read from a diffusers config.json with the same keys and defaults
// (FLUX.1-dev: guidance_embeds true; FLUX.1-schnell: false).
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct FluxConfig {
  int64_t patch_size = 1;
  int64_t in_channels = 64;
  int64_t out_channels = 64;  // diffusers: null means in_channels
  int64_t num_layers = 19;         // double-stream blocks (transformer_blocks)
  int64_t num_single_layers = 38;  // single-stream blocks (single_transformer_blocks)
  int64_t attention_head_dim = 128;
  int64_t num_attention_heads = 24;
  int64_t joint_attention_dim = 4096;
  int64_t pooled_projection_dim = 768;
  bool guidance_embeds = false;
  std::vector<int64_t> axes_dims_rope{16, 56, 56};  // rotary dims per position-id axis; they sum to the head dim

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
  int64_t output_channels() const { return patch_size * patch_size * out_channels; }
  std::vector<std::pair<std::string, std::string>> entries() const;
};

// Unknown keys are errors naming the key (a silently ignored key could change the architecture), as are
// wrong types, out-of-range sizes and axes_dims_rope that do not split attention_head_dim into even parts.
FluxConfig flux_config_from_json(const nlohmann::json& config);

}  // namespace tessera
