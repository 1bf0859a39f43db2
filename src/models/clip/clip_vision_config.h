#pragma once
// CLIPVisionModel's configuration, read from a transformers config.json (the image_encoder/ folder of a Wan2.1
// image-to-video pipeline). Only the keys that shape the model are read.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "src/models/clip/clip_layer_config.h"

namespace tessera {

struct ClipVisionConfig {
  int64_t hidden_size;
  int64_t intermediate_size;
  int64_t num_hidden_layers;
  int64_t num_attention_heads;
  int64_t num_channels;
  int64_t image_size;  // square images of this many pixels a side: the position table has no other size
  int64_t patch_size;
  double layer_norm_eps;
  ClipActivation hidden_act;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Patches a side; the convolution drops a remainder, as transformers' floor division does.
  int64_t grid() const { return image_size / patch_size; }
  // The class token and the patches: 257 for ViT-H/14 at 224 pixels.
  int64_t num_positions() const { return grid() * grid() + 1; }
  ClipLayerConfig layer() const {
    return {.hidden_size = hidden_size, .intermediate_size = intermediate_size,
            .num_attention_heads = num_attention_heads, .layer_norm_eps = layer_norm_eps, .hidden_act = hidden_act,
            .causal = false};
  }
};

// Throws tessera::Error naming `origin` (the file) and the key for a missing size, a value of the wrong type or
// range (image_size and patch_size must be single integers, the patch no larger than the image), a hidden size the
// heads do not divide, model_type other than "clip_vision_model", "architectures" without "CLIPVisionModel", or an
// unsupported hidden_act. Defaults as CLIPVisionConfig for the keys a checkpoint may omit: 3 channels, 224-pixel
// images, 32-pixel patches, epsilon 1e-5, "quick_gelu".
ClipVisionConfig clip_vision_config_from_json(const nlohmann::json& config, const std::string& origin);

}  // namespace tessera
