#include "src/models/umt5/umt5_config.h"

#include <nlohmann/json.hpp>

#include <map>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

int64_t positive_integer(const nlohmann::json& config, const std::string& key, const std::string& origin,
                         int64_t max = kMaxConfigDimension) {
  TESSERA_CHECK(config.contains(key), "UMT5 config ", origin, " lacks \"", key,
                "\"; is this the text_encoder/config.json of a UMT5 (Wan) pipeline?");
  return io::json_integer<int64_t>(config.at(key), "UMT5 config " + origin + " \"" + key + "\"", 1, max);
}

int64_t optional_integer(const nlohmann::json& config, const std::string& key, const std::string& origin,
                         int64_t fallback) {
  return config.contains(key) ? positive_integer(config, key, origin) : fallback;
}

}  // namespace

Umt5Config umt5_config_from_json(const nlohmann::json& config, const std::string& origin) {
  TESSERA_CHECK(config.is_object(), "UMT5 config ", origin, " must be a JSON object");
  if (config.contains("model_type")) {
    TESSERA_CHECK(config.at("model_type") == "umt5" || config.at("model_type") == "t5", "UMT5 config ", origin,
                  " has \"model_type\" ", config.at("model_type").dump(),
                  "; tessera builds UMT5EncoderModel (\"umt5\") and T5EncoderModel (\"t5\") only");
  }
  const bool t5 = config.contains("model_type") && config.at("model_type") == "t5";
  if (config.contains("architectures")) {
    // A whole T5ForConditionalGeneration checkpoint also holds a decoder, which the encoder cannot load.
    const std::string encoder_class = t5 ? "T5EncoderModel" : "UMT5EncoderModel";
    bool encoder_only = false;
    if (config.at("architectures").is_array()) {
      for (const auto& name : config.at("architectures")) encoder_only = encoder_only || name == encoder_class;
    }
    TESSERA_CHECK(encoder_only, "UMT5 config ", origin, " has \"architectures\" ", config.at("architectures").dump(),
                  "; tessera builds ", encoder_class, ", the text encoder alone");
  }
  double epsilon = 1e-6;
  if (config.contains("layer_norm_epsilon")) {
    const auto& value = config.at("layer_norm_epsilon");
    TESSERA_CHECK(value.is_number() && value.get<double>() > 0, "UMT5 config ", origin,
                  " \"layer_norm_epsilon\" must be a positive number, got ", value.dump());
    epsilon = value.get<double>();
  }
  std::string projection = "gated-gelu";
  if (config.contains("feed_forward_proj")) {
    TESSERA_CHECK(config.at("feed_forward_proj").is_string(), "UMT5 config ", origin,
                  " \"feed_forward_proj\" must be a string such as \"gated-gelu\", got ",
                  config.at("feed_forward_proj").dump());
    projection = config.at("feed_forward_proj").get<std::string>();
  }
  const bool gated = projection.rfind("gated-", 0) == 0;
  const std::string activation_name = gated ? projection.substr(6) : projection;
  // transformers reads "gated-gelu" as the tanh approximation (gelu_new), a plain "gelu" as the exact one.
  static const std::map<std::string, Umt5Activation> activations = {
      {"relu", Umt5Activation::kRelu},         {"gelu", Umt5Activation::kGelu},
      {"gelu_new", Umt5Activation::kGeluTanh}, {"gelu_pytorch_tanh", Umt5Activation::kGeluTanh},
      {"silu", Umt5Activation::kSilu},         {"swish", Umt5Activation::kSilu}};
  const auto activation = activations.find(activation_name);
  TESSERA_CHECK(activation != activations.end(), "UMT5 config ", origin, " \"feed_forward_proj\" = \"",
                projection, "\" is not supported; use \"gated-gelu\" (Wan), \"relu\" or \"[gated-]gelu|silu\"");

  const Umt5Config result{
      .vocab_size = positive_integer(config, "vocab_size", origin, int64_t{1} << 24),
      .d_model = positive_integer(config, "d_model", origin),
      .d_kv = positive_integer(config, "d_kv", origin),
      .num_heads = positive_integer(config, "num_heads", origin),
      .num_layers = positive_integer(config, "num_layers", origin, kMaxConfigLayers),
      .d_ff = positive_integer(config, "d_ff", origin),
      .relative_attention_num_buckets = optional_integer(config, "relative_attention_num_buckets", origin, 32),
      .relative_attention_max_distance = optional_integer(config, "relative_attention_max_distance", origin, 128),
      .layer_norm_epsilon = epsilon,
      .gated_feed_forward = gated,
      .activation = projection == "gated-gelu" ? Umt5Activation::kGeluTanh : activation->second,
      .shared_position_bias = t5};
  // Bidirectional buckets: half per direction, half of those exact; the log-spaced rest needs max distance
  // beyond the exact range.
  TESSERA_CHECK(result.relative_attention_num_buckets >= 4 && result.relative_attention_num_buckets % 2 == 0,
                "UMT5 config ", origin, " \"relative_attention_num_buckets\" must be even and at least 4, got ",
                result.relative_attention_num_buckets);
  TESSERA_CHECK(result.relative_attention_max_distance > result.relative_attention_num_buckets / 4, "UMT5 config ",
                origin, " \"relative_attention_max_distance\" must exceed num_buckets / 4 = ",
                result.relative_attention_num_buckets / 4, ", got ", result.relative_attention_max_distance);
  TESSERA_CHECK(result.inner_dim() <= kMaxConfigDimension, "UMT5 config ", origin, " \"num_heads\" x \"d_kv\" = ",
                result.inner_dim(), " is more than ", kMaxConfigDimension, ", the widest model tessera builds");
  return result;
}

}  // namespace tessera
