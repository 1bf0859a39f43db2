#pragma once
// UMT5EncoderModel's configuration, read from a transformers config.json (the text_encoder/ folder of a Wan
// pipeline), or T5EncoderModel's (FLUX's text_encoder_2/): the same encoder but for where its position bias lives. Only the keys that shape the encoder are read; transformers' generic keys (dropout, token ids,
// decoder sizes, versions) are ignored.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace tessera {

enum class Umt5Activation { kRelu, kGelu, kGeluTanh, kSilu };

struct Umt5Config {
  int64_t vocab_size;
  int64_t d_model;
  int64_t d_kv;       // per-head size; num_heads * d_kv need not be d_model
  int64_t num_heads;
  int64_t num_layers;
  int64_t d_ff;
  int64_t relative_attention_num_buckets;
  int64_t relative_attention_max_distance;
  double layer_norm_epsilon;
  bool gated_feed_forward;  // feed_forward_proj "gated-<act>": act(wi_0 x) * wi_1 x; else act(wi x)
  Umt5Activation activation;
  // T5 (model_type "t5"): only block 0 has "relative_attention_bias" and every block adds its bias; UMT5: each
  // block has its own.
  bool shared_position_bias;

  int64_t inner_dim() const { return num_heads * d_kv; }
};

// Throws tessera::Error naming `origin` (the file) and the key for a missing size, a value of the wrong type
// or range, model_type other than "umt5" or "t5" ("architectures" naming no encoder-only model), or an unknown
// feed_forward_proj. Defaults as UMT5Config for the
// keys a checkpoint may omit: 32 buckets, max distance 128, epsilon 1e-6, "gated-gelu".
Umt5Config umt5_config_from_json(const nlohmann::json& config, const std::string& origin);

}  // namespace tessera
