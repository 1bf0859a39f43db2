#pragma once
// WanTransformer3DModel's configuration, read from a diffusers config.json with the same keys and defaults.
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct WanConfig {
  std::array<int64_t, 3> patch_size{1, 2, 2};  // (frames, height, width)
  int64_t num_attention_heads = 40;
  int64_t attention_head_dim = 128;
  int64_t in_channels = 16;
  int64_t out_channels = 16;
  int64_t text_dim = 4096;
  int64_t freq_dim = 256;
  int64_t ffn_dim = 13824;
  int64_t num_layers = 40;
  bool cross_attn_norm = true;
  double eps = 1e-6;
  int64_t rope_max_seq_len = 1024;
  // Image conditioning (Wan2.1 I2V, FLF2V), 0 where the config has null: the width of the image encoder's
  // embeddings, the input width of the blocks' image key/value projections (the inner dim), and the learned
  // position embedding over the first and last frame's tokens (FLF2V).
  int64_t image_dim = 0;
  int64_t added_kv_proj_dim = 0;
  int64_t pos_embed_seq_len = 0;

  bool image_conditioned() const { return image_dim > 0; }
  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
  std::vector<std::pair<std::string, std::string>> entries() const;
};

// Unknown keys are errors naming the key: a silently ignored key could change the architecture.
WanConfig wan_config_from_json(const nlohmann::json& config);

}  // namespace tessera
