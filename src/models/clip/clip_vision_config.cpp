#include "src/models/clip/clip_vision_config.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

constexpr int64_t kRequired = -1;

int64_t integer(const nlohmann::json& config, const std::string& key, const std::string& what, int64_t fallback,
                int64_t max = kMaxConfigDimension) {
  if (!config.contains(key)) {
    TESSERA_CHECK(fallback >= 1, what, " lacks \"", key,
                  "\"; is this the image_encoder/config.json of a CLIPVisionModel (Wan2.1 image-to-video's "
                  "image_encoder/)?");
    return fallback;
  }
  return io::json_integer<int64_t>(config.at(key), detail::concat(what, " \"", key, "\""), 1, max);
}

}  // namespace

ClipVisionConfig clip_vision_config_from_json(const nlohmann::json& config, const std::string& origin) {
  const std::string what = detail::concat("CLIP vision config ", origin);
  TESSERA_CHECK(config.is_object(), what, " must be a JSON object");
  if (config.contains("model_type")) {
    TESSERA_CHECK(config.at("model_type") == "clip_vision_model", what, " has \"model_type\" ",
                  config.at("model_type").dump(), "; tessera builds CLIPVisionModel (\"clip_vision_model\") only",
                  config.at("model_type") == "clip" ? " (a whole CLIPModel's config: use its vision_config)" : "");
  }
  if (config.contains("architectures")) {
    const auto& architectures = config.at("architectures");
    bool vision_model = false;
    if (architectures.is_array()) {
      // diffusers' Wan conversion script saves the encoder with its projection head, which the pipeline never
      // runs (it takes a hidden state): the head's weight is left unread.
      for (const auto& name : architectures) {
        vision_model = vision_model || name == "CLIPVisionModel" || name == "CLIPVisionModelWithProjection";
      }
    }
    TESSERA_CHECK(vision_model, what, " has \"architectures\" ", architectures.dump(),
                  "; tessera builds CLIPVisionModel (or CLIPVisionModelWithProjection without its head), Wan2.1 "
                  "image-to-video's image_encoder");
  }
  const ClipVisionConfig result{
      .hidden_size = integer(config, "hidden_size", what, kRequired),
      .intermediate_size = integer(config, "intermediate_size", what, kRequired),
      .num_hidden_layers = integer(config, "num_hidden_layers", what, kRequired, kMaxConfigLayers),
      .num_attention_heads = integer(config, "num_attention_heads", what, kRequired),
      .num_channels = integer(config, "num_channels", what, 3),
      .image_size = integer(config, "image_size", what, 224),
      .patch_size = integer(config, "patch_size", what, 32),
      .layer_norm_eps = clip_layer_norm_eps_from_json(config, what),
      .hidden_act = clip_activation_from_json(config, what)};
  TESSERA_CHECK(result.hidden_size % result.num_attention_heads == 0, what, " \"hidden_size\" ", result.hidden_size,
                " is not a multiple of \"num_attention_heads\" ", result.num_attention_heads);
  TESSERA_CHECK(result.patch_size <= result.image_size, what, " \"patch_size\" ", result.patch_size,
                " is larger than \"image_size\" ", result.image_size, ": the image would hold no patch");
  return result;
}

}  // namespace tessera
