#include "src/models/clip/clip_text_config.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

int64_t integer(const nlohmann::json& config, const std::string& key, const std::string& origin, int64_t fallback,
                int64_t min = 1, int64_t max = kMaxConfigDimension) {
  if (!config.contains(key)) {
    TESSERA_CHECK(fallback >= min, "CLIP text config ", origin, " lacks \"", key,
                  "\"; is this the text_encoder/config.json of a CLIPTextModel (FLUX's text_encoder/)?");
    return fallback;
  }
  return io::json_integer<int64_t>(config.at(key), "CLIP text config " + origin + " \"" + key + "\"", min, max);
}

constexpr int64_t kRequired = -1;

}  // namespace

ClipTextConfig clip_text_config_from_json(const nlohmann::json& config, const std::string& origin) {
  TESSERA_CHECK(config.is_object(), "CLIP text config ", origin, " must be a JSON object");
  if (config.contains("model_type")) {
    TESSERA_CHECK(config.at("model_type") == "clip_text_model", "CLIP text config ", origin, " has \"model_type\" ",
                  config.at("model_type").dump(), "; tessera builds CLIPTextModel (\"clip_text_model\") only",
                  config.at("model_type") == "clip" ? " (a whole CLIPModel's config: use its text_config)" : "");
  }
  if (config.contains("architectures")) {
    const auto& architectures = config.at("architectures");
    bool text_model = false;
    if (architectures.is_array()) {
      for (const auto& name : architectures) text_model = text_model || name == "CLIPTextModel";
    }
    TESSERA_CHECK(text_model, "CLIP text config ", origin, " has \"architectures\" ", architectures.dump(),
                  "; tessera builds CLIPTextModel (no projection head), FLUX's text_encoder");
  }
  const std::string what = detail::concat("CLIP text config ", origin);
  if (config.contains("eos_token_id")) {
    TESSERA_CHECK(config.at("eos_token_id").is_number_integer(), "CLIP text config ", origin,
                  " \"eos_token_id\" must be one integer (the end token, where the pooled output is taken), got ",
                  config.at("eos_token_id").dump());
  }
  const ClipTextConfig result{
      .vocab_size = integer(config, "vocab_size", origin, kRequired, 1, int64_t{1} << 24),
      .hidden_size = integer(config, "hidden_size", origin, kRequired),
      .intermediate_size = integer(config, "intermediate_size", origin, kRequired),
      .num_hidden_layers = integer(config, "num_hidden_layers", origin, kRequired, 1, kMaxConfigLayers),
      .num_attention_heads = integer(config, "num_attention_heads", origin, kRequired),
      .max_position_embeddings = integer(config, "max_position_embeddings", origin, 77),
      .layer_norm_eps = clip_layer_norm_eps_from_json(config, what),
      .hidden_act = clip_activation_from_json(config, what),
      .eos_token_id = integer(config, "eos_token_id", origin, 49407, 0, int64_t{1} << 24)};
  TESSERA_CHECK(result.hidden_size % result.num_attention_heads == 0, "CLIP text config ", origin,
                " \"hidden_size\" ", result.hidden_size, " is not a multiple of \"num_attention_heads\" ",
                result.num_attention_heads);
  return result;
}

}  // namespace tessera
