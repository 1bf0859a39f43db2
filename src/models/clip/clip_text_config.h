#pragma once
// CLIPTextModel's configuration, read from a transformers config.json (the text_encoder/ folder of a FLUX
// pipeline). Only the keys that shape the model and its pooling are read.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "src/models/clip/clip_layer_config.h"

namespace tessera {

struct ClipTextConfig {
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t intermediate_size;
  int64_t num_hidden_layers;
  int64_t num_attention_heads;
  int64_t max_position_embeddings;
  double layer_norm_eps;
  ClipActivation hidden_act;
  // Where the pooled output is taken: the first position holding this id; 2 (older checkpoints, FLUX.1's
  // included) means transformers' legacy rule, the position of the largest id.
  int64_t eos_token_id;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool legacy_pooling() const { return eos_token_id == 2; }
  ClipLayerConfig layer() const {
    return {.hidden_size = hidden_size, .intermediate_size = intermediate_size,
            .num_attention_heads = num_attention_heads, .layer_norm_eps = layer_norm_eps, .hidden_act = hidden_act,
            .causal = true};
  }
};

// Throws tessera::Error naming `origin` (the file) and the key for a missing size, a value of the wrong type or
// range, a hidden size the heads do not divide, model_type other than "clip_text_model", "architectures"
// without "CLIPTextModel", or an unsupported hidden_act. Defaults as CLIPTextConfig for the keys a checkpoint may
// omit: 77 positions, epsilon 1e-5, "quick_gelu", eos_token_id 49407.
ClipTextConfig clip_text_config_from_json(const nlohmann::json& config, const std::string& origin);

}  // namespace tessera
