#include "src/models/flux/flux_config.h"

#include <nlohmann/json.hpp>

#include <numeric>
#include <set>

#include "common/join.h"
#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

constexpr const char* kWhat = "FluxTransformer2DModel config";

int64_t size_field(const nlohmann::json& value, const std::string& key, int64_t min = 1) {
  const bool is_depth = key == "num_layers" || key == "num_single_layers";
  // concat, not a chain of std::string +: GCC 12 warns (falsely, -Warray-bounds) on the chain's inlined copies.
  return io::json_integer<int64_t>(value, detail::concat(kWhat, " \"", key, "\""), min,
                                   is_depth ? kMaxConfigLayers : kMaxConfigDimension);
}

std::string joined(const std::vector<int64_t>& values) { return "[" + join(values) + "]"; }

}  // namespace

std::vector<std::pair<std::string, std::string>> FluxConfig::entries() const {
  return {{"patch_size", std::to_string(patch_size)},
          {"in_channels", std::to_string(in_channels)},
          {"out_channels", std::to_string(out_channels)},
          {"num_layers", std::to_string(num_layers)},
          {"num_single_layers", std::to_string(num_single_layers)},
          {"attention_head_dim", std::to_string(attention_head_dim)},
          {"num_attention_heads", std::to_string(num_attention_heads)},
          {"joint_attention_dim", std::to_string(joint_attention_dim)},
          {"pooled_projection_dim", std::to_string(pooled_projection_dim)},
          {"guidance_embeds", guidance_embeds ? "true" : "false"},
          {"axes_dims_rope", joined(axes_dims_rope)}};
}

FluxConfig flux_config_from_json(const nlohmann::json& config) {
  TESSERA_CHECK(config.is_object(), kWhat, " must be a JSON object, got ", config.dump());
  static const std::set<std::string> bookkeeping = {"_class_name", "_diffusers_version", "_name_or_path"};
  FluxConfig result;
  bool out_channels_given = false;
  for (const auto& [key, value] : config.items()) {
    if (bookkeeping.count(key)) continue;
    if (key == "patch_size") {
      result.patch_size = size_field(value, key);
    } else if (key == "in_channels") {
      result.in_channels = size_field(value, key);
    } else if (key == "out_channels") {
      out_channels_given = !value.is_null();
      if (out_channels_given) result.out_channels = size_field(value, key);
    } else if (key == "num_layers") {
      result.num_layers = size_field(value, key, 0);
    } else if (key == "num_single_layers") {
      result.num_single_layers = size_field(value, key, 0);
    } else if (key == "attention_head_dim") {
      result.attention_head_dim = size_field(value, key);
    } else if (key == "num_attention_heads") {
      result.num_attention_heads = size_field(value, key);
    } else if (key == "joint_attention_dim") {
      result.joint_attention_dim = size_field(value, key);
    } else if (key == "pooled_projection_dim") {
      result.pooled_projection_dim = size_field(value, key);
    } else if (key == "guidance_embeds") {
      TESSERA_CHECK(value.is_boolean(), kWhat, " \"guidance_embeds\" must be true or false, got ", value.dump());
      result.guidance_embeds = value.get<bool>();
    } else if (key == "axes_dims_rope") {
      TESSERA_CHECK(value.is_array() && !value.empty(), kWhat, " \"axes_dims_rope\" must be a list of rotary "
                    "dimensions, one per position-id axis (FLUX.1: [16, 56, 56]), got ", value.dump());
      result.axes_dims_rope.clear();
      for (const auto& dim : value) result.axes_dims_rope.push_back(size_field(dim, key));
    } else {
      TESSERA_CHECK(false, "unknown ", kWhat, " key \"", key, "\" = ", value.dump(),
                    "; it may change the architecture, so tessera refuses to guess. Remove it or update tessera.");
    }
  }
  if (!out_channels_given) result.out_channels = result.in_channels;
  for (const int64_t dim : result.axes_dims_rope) {
    TESSERA_CHECK(dim % 2 == 0, kWhat, " \"axes_dims_rope\" = ", joined(result.axes_dims_rope),
                  ": every rotary dimension must be even (they rotate pairs), got ", dim);
  }
  const int64_t rotary_total = std::accumulate(result.axes_dims_rope.begin(), result.axes_dims_rope.end(), int64_t{0});
  TESSERA_CHECK(rotary_total == result.attention_head_dim, kWhat, " \"axes_dims_rope\" = ",
                joined(result.axes_dims_rope), " sums to ", rotary_total, " but \"attention_head_dim\" is ",
                result.attention_head_dim, "; the rotary parts must cover the head dim exactly");
  TESSERA_CHECK(result.inner_dim() <= kMaxConfigDimension, kWhat, " \"num_attention_heads\" x \"attention_head_dim\" = ",
                result.inner_dim(), " is more than ", kMaxConfigDimension, ", the widest model tessera builds");
  TESSERA_CHECK(result.output_channels() <= kMaxConfigDimension, kWhat, " \"patch_size\"^2 x \"out_channels\" = ",
                result.output_channels(), " is more than ", kMaxConfigDimension);
  return result;
}

}  // namespace tessera
