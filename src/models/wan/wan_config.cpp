#include "src/models/wan/wan_config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

int64_t positive_integer(const nlohmann::json& value, const std::string& key) {
  const int64_t max = key == "num_layers" ? kMaxConfigLayers : kMaxConfigDimension;
  return io::json_integer<int64_t>(value, "WanTransformer3DModel config \"" + key + "\"", 1, max);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> WanConfig::entries() const {
  std::vector<std::pair<std::string, std::string>> entries{{"patch_size", "[" + std::to_string(patch_size[0]) + ", " + std::to_string(patch_size[1]) + ", " +
                             std::to_string(patch_size[2]) + "]"},
          {"num_attention_heads", std::to_string(num_attention_heads)},
          {"attention_head_dim", std::to_string(attention_head_dim)},
          {"in_channels", std::to_string(in_channels)},
          {"out_channels", std::to_string(out_channels)},
          {"text_dim", std::to_string(text_dim)},
          {"freq_dim", std::to_string(freq_dim)},
          {"ffn_dim", std::to_string(ffn_dim)},
          {"num_layers", std::to_string(num_layers)},
          {"cross_attn_norm", cross_attn_norm ? "true" : "false"},
          {"eps", nlohmann::json(eps).dump()},
          {"rope_max_seq_len", std::to_string(rope_max_seq_len)}};
  // The image conditioning only where the config has it (null otherwise), as a text-to-video folder reads.
  for (const auto& [key, size] : {std::pair{"image_dim", image_dim}, std::pair{"added_kv_proj_dim", added_kv_proj_dim},
                                  std::pair{"pos_embed_seq_len", pos_embed_seq_len}}) {
    if (size > 0) entries.emplace_back(key, std::to_string(size));
  }
  return entries;
}

WanConfig wan_config_from_json(const nlohmann::json& config) {
  TESSERA_CHECK(config.is_object(), "WanTransformer3DModel config must be a JSON object");
  static const std::set<std::string> bookkeeping = {"_class_name", "_diffusers_version", "_name_or_path"};
  WanConfig result;
  bool out_channels_given = false;
  for (const auto& [key, value] : config.items()) {
    if (bookkeeping.count(key)) continue;
    if (key == "image_dim" || key == "added_kv_proj_dim" || key == "pos_embed_seq_len") {
      const int64_t size = value.is_null() ? 0 : positive_integer(value, key);
      (key == "image_dim" ? result.image_dim : key == "added_kv_proj_dim" ? result.added_kv_proj_dim
                                                                          : result.pos_embed_seq_len) = size;
    } else if (key == "patch_size") {
      TESSERA_CHECK(value.is_array() && value.size() == 3, "WanTransformer3DModel config \"patch_size\" must be "
                    "three integers, got ", value.dump());
      for (int i = 0; i < 3; ++i) result.patch_size[i] = positive_integer(value[i], "patch_size");
    } else if (key == "num_attention_heads") {
      result.num_attention_heads = positive_integer(value, key);
    } else if (key == "attention_head_dim") {
      result.attention_head_dim = positive_integer(value, key);
    } else if (key == "in_channels") {
      result.in_channels = positive_integer(value, key);
    } else if (key == "out_channels") {
      out_channels_given = !value.is_null();
      if (out_channels_given) result.out_channels = positive_integer(value, key);
    } else if (key == "text_dim") {
      result.text_dim = positive_integer(value, key);
    } else if (key == "freq_dim") {
      result.freq_dim = positive_integer(value, key);
    } else if (key == "ffn_dim") {
      result.ffn_dim = positive_integer(value, key);
    } else if (key == "num_layers") {
      result.num_layers = positive_integer(value, key);
    } else if (key == "rope_max_seq_len") {
      result.rope_max_seq_len = positive_integer(value, key);
    } else if (key == "cross_attn_norm") {
      TESSERA_CHECK(value.is_boolean(), "WanTransformer3DModel config \"cross_attn_norm\" must be true or false");
      result.cross_attn_norm = value.get<bool>();
    } else if (key == "eps") {
      TESSERA_CHECK(value.is_number() && value.get<double>() > 0, "WanTransformer3DModel config \"eps\" must be "
                    "a positive number, got ", value.dump());
      result.eps = value.get<double>();
    } else if (key == "qk_norm") {
      // diffusers builds the same RMS q/k norms whatever this says; other norms would be another model.
      TESSERA_CHECK(value.is_null() || value == "rms_norm_across_heads", "WanTransformer3DModel config "
                    "\"qk_norm\" = ", value.dump(), " is not supported; only \"rms_norm_across_heads\"");
    } else {
      TESSERA_CHECK(false, "unknown WanTransformer3DModel config key \"", key, "\" = ", value.dump(),
                    "; it may change the architecture, so tessera refuses to guess. Remove it or update tessera.");
    }
  }
  if (!out_channels_given) result.out_channels = result.in_channels;
  TESSERA_CHECK(result.attention_head_dim % 2 == 0 && result.attention_head_dim >= 6, "WanTransformer3DModel "
                "config \"attention_head_dim\" must be even and at least 6 (three rotary parts), got ",
                result.attention_head_dim);
  TESSERA_CHECK(result.inner_dim() <= kMaxConfigDimension, "WanTransformer3DModel config \"num_attention_heads\" ",
                "x \"attention_head_dim\" = ", result.inner_dim(), " is more than ", kMaxConfigDimension,
                ", the widest model tessera builds");
  TESSERA_CHECK(result.freq_dim % 2 == 0, "WanTransformer3DModel config \"freq_dim\" must be even, got ",
                result.freq_dim);
  // The blocks' image keys and values project the image embedder's output, which is inner_dim wide; diffusers
  // builds the two together (Wan2.1 I2V: image_dim 1280, added_kv_proj_dim 5120).
  TESSERA_CHECK((result.image_dim > 0) == (result.added_kv_proj_dim > 0), "WanTransformer3DModel config gives ",
                result.image_dim > 0 ? "\"image_dim\" without \"added_kv_proj_dim\"" : "\"added_kv_proj_dim\" without "
                "\"image_dim\"", "; an image-to-video transformer has both (Wan2.1 I2V: 1280 and 5120)");
  TESSERA_CHECK(result.added_kv_proj_dim == 0 || result.added_kv_proj_dim == result.inner_dim(),
                "WanTransformer3DModel config \"added_kv_proj_dim\" = ", result.added_kv_proj_dim,
                " must be the inner dim (num_attention_heads x attention_head_dim = ", result.inner_dim(),
                "): the blocks' image keys project the image embedder's output");
  TESSERA_CHECK(result.pos_embed_seq_len == 0 || (result.image_dim > 0 && result.pos_embed_seq_len % 2 == 0),
                "WanTransformer3DModel config \"pos_embed_seq_len\" = ", result.pos_embed_seq_len, " needs ",
                result.image_dim > 0 ? "to be even (the first and the last frame's tokens)" : "\"image_dim\"");
  return result;
}

}  // namespace tessera
