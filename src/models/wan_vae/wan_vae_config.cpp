#include "src/models/wan_vae/wan_vae_config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string source) : config_(config), source_(std::move(source)) {}

  std::string what(const std::string& key) const { return source_ + " \"" + key + "\""; }

  const nlohmann::json& required(const std::string& key) const {
    TESSERA_CHECK(config_.contains(key) && !config_.at(key).is_null(), source_, " lacks \"", key,
                  "\", which AutoencoderKLWan needs; a Wan vae/config.json has it");
    return config_.at(key);
  }

  int64_t positive(const nlohmann::json& value, const std::string& key) const {
    return io::json_integer<int64_t>(value, what(key), 1, kMaxConfigDimension);
  }

  const nlohmann::json& array(const std::string& key) const {
    const nlohmann::json& value = required(key);
    TESSERA_CHECK(value.is_array(), what(key), " must be a list, got ", value.dump());
    return value;
  }

  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> result;
    for (const auto& item : array(key)) {
      TESSERA_CHECK(item.is_number(), what(key), " must be a list of numbers, got ", array(key).dump());
      result.push_back(item.get<double>());
    }
    return result;
  }

 private:
  const nlohmann::json& config_;
  std::string source_;
};

}  // namespace

int64_t WanVaeConfig::spatial_scale() const { return (int64_t{1} << (dim_mult.size() - 1)) * patch_size; }

int64_t WanVaeConfig::temporal_scale() const {
  int64_t scale = 1;
  for (bool downsample : temperal_downsample) scale *= downsample ? 2 : 1;
  return scale;
}

int64_t WanVaeConfig::video_in_channels() const { return in_channels / (patch_size * patch_size); }
int64_t WanVaeConfig::video_out_channels() const { return out_channels / (patch_size * patch_size); }

namespace {

// The residual blocks' shortcuts fold (encoder) or unfold (decoder) each level's resampling into channels;
// diffusers refuses to build them unless the channel counts divide, and so does tessera, before loading.
void check_residual_shortcuts(const WanVaeConfig& c, const std::string& source) {
  const size_t levels = c.dim_mult.size();
  for (size_t i = 0; i + 1 < levels; ++i) {
    const int64_t factor = (c.temperal_downsample[i] ? 2 : 1) * 4;
    const int64_t in = c.base_dim * (i == 0 ? 1 : c.dim_mult[i - 1]), out = c.base_dim * c.dim_mult[i];
    TESSERA_CHECK(in * factor % out == 0, source, ": encoder level ", i, " (is_residual) averages ", in,
                  " channels x ", factor, " samples into ", out, " channels, which does not divide (diffusers' ",
                  "AvgDown3D refuses it too); change base_dim or dim_mult");
    const int64_t up_factor = (c.temperal_downsample[levels - 2 - i] ? 2 : 1) * 4;
    const int64_t up_in = c.decoder_base_dim * c.dim_mult[levels - 1 - (i == 0 ? 0 : i - 1)];
    const int64_t up_out = c.decoder_base_dim * c.dim_mult[levels - 1 - i];
    TESSERA_CHECK(up_out * up_factor % up_in == 0, source, ": decoder level ", i, " (is_residual) duplicates ",
                  up_in, " channels into ", up_out, " channels x ", up_factor, " samples, which does not divide ",
                  "(diffusers' DupUp3D refuses it too); change decoder_base_dim or dim_mult");
  }
  // The last encoder level neither samples nor, in a valid layout, changes the channels by other than a divisor.
  const int64_t in = c.base_dim * (levels == 1 ? 1 : c.dim_mult[levels - 2]), out = c.base_dim * c.dim_mult.back();
  TESSERA_CHECK(in % out == 0, source, ": the last encoder level (is_residual) averages ", in, " channels into ",
                out, ", which does not divide (diffusers' AvgDown3D refuses it too); its dim_mult must not grow");
}

}  // namespace

WanVaeConfig wan_vae_config_from_json(const nlohmann::json& config, const std::string& source) {
  TESSERA_CHECK(config.is_object(), source, " must hold a JSON object");
  static const std::set<std::string> known = {
      "_class_name", "_diffusers_version", "_name_or_path", "base_dim", "decoder_base_dim", "z_dim", "dim_mult",
      "num_res_blocks", "attn_scales", "temperal_downsample", "dropout", "latents_mean", "latents_std",
      "is_residual", "in_channels", "out_channels", "patch_size", "scale_factor_temporal", "scale_factor_spatial"};
  for (const auto& [key, value] : config.items()) {
    TESSERA_CHECK(known.count(key), "unknown AutoencoderKLWan config key \"", key, "\" = ", value.dump(), " in ",
                  source, "; it may change the architecture, so tessera refuses to guess");
  }
  const ConfigReader read(config, source);

  const nlohmann::json is_residual = config.value("is_residual", nlohmann::json(false));
  TESSERA_CHECK(is_residual.is_boolean(), read.what("is_residual"), " must be true or false, got ",
                is_residual.dump());
  const nlohmann::json attn_scales = config.value("attn_scales", nlohmann::json::array());
  TESSERA_CHECK(attn_scales.is_array() && attn_scales.empty(), read.what("attn_scales"), " = ", attn_scales.dump(),
                " is not supported: only [] (diffusers' own encoder fails on the attention blocks it adds)");
  if (config.contains("dropout")) {
    TESSERA_CHECK(config["dropout"].is_number(), read.what("dropout"), " must be a number");  // unused at inference
  }

  const auto optional_positive = [&](const std::string& key, int64_t fallback) {
    if (!config.contains(key) || config[key].is_null()) return fallback;
    return read.positive(config[key], key);
  };
  const int64_t base_dim = read.positive(read.required("base_dim"), "base_dim");
  WanVaeConfig result{
      .base_dim = base_dim,
      .decoder_base_dim = optional_positive("decoder_base_dim", base_dim),
      .z_dim = read.positive(read.required("z_dim"), "z_dim"),
      .dim_mult = {},
      .num_res_blocks = io::json_integer<int64_t>(read.required("num_res_blocks"), read.what("num_res_blocks"), 1,
                                                  kMaxConfigLayers),
      .temperal_downsample = {},
      .latents_mean = read.numbers("latents_mean"),
      .latents_std = read.numbers("latents_std"),
      .in_channels = optional_positive("in_channels", 3),
      .out_channels = optional_positive("out_channels", 3),
      .is_residual = is_residual.get<bool>(),
      .patch_size = optional_positive("patch_size", 1),
  };
  for (const std::string key : {"in_channels", "out_channels"}) {
    const int64_t channels = key == "in_channels" ? result.in_channels : result.out_channels;
    TESSERA_CHECK(channels % (result.patch_size * result.patch_size) == 0, read.what(key), " = ", channels,
                  " is not a multiple of patch_size^2 = ", result.patch_size * result.patch_size, ": the VAE ",
                  "folds each patch's pixels into channels (Wan2.2's 12 = 3 colours x 2 x 2)");
  }
  for (const auto& item : read.array("dim_mult")) result.dim_mult.push_back(read.positive(item, "dim_mult"));
  TESSERA_CHECK(result.dim_mult.size() >= 1 && result.dim_mult.size() <= 16, read.what("dim_mult"),
                " must list 1 to 16 multipliers, got ", result.dim_mult.size());
  for (const auto& item : read.array("temperal_downsample")) {
    TESSERA_CHECK(item.is_boolean(), read.what("temperal_downsample"), " must be a list of true/false, got ",
                  read.array("temperal_downsample").dump());
    result.temperal_downsample.push_back(item.get<bool>());
  }
  TESSERA_CHECK(result.temperal_downsample.size() + 1 == result.dim_mult.size(), read.what("temperal_downsample"),
                " must have one entry per level but the last (", result.dim_mult.size() - 1, "), got ",
                result.temperal_downsample.size());
  for (const std::string key : {"latents_mean", "latents_std"}) {
    const auto& values = key == "latents_mean" ? result.latents_mean : result.latents_std;
    TESSERA_CHECK(static_cast<int64_t>(values.size()) == result.z_dim, read.what(key), " must have z_dim = ",
                  result.z_dim, " entries, got ", values.size());
  }
  for (double value : result.latents_std) {
    TESSERA_CHECK(value > 0, read.what("latents_std"), " must be positive, got ", value);
  }
  if (result.is_residual) {
    check_residual_shortcuts(result, source);
  } else {
    for (int64_t mult : result.dim_mult) {
      // The Wan 2.1 decoder halves the channels of each upsample's output (dim // 2).
      TESSERA_CHECK(result.decoder_base_dim * mult % 2 == 0, source, ": decoder_base_dim x dim_mult must be even, ",
                    "got ", result.decoder_base_dim, " x ", mult);
    }
  }
  if (config.contains("scale_factor_spatial") && !config["scale_factor_spatial"].is_null()) {
    const int64_t given = read.positive(config["scale_factor_spatial"], "scale_factor_spatial");
    TESSERA_CHECK(given == result.spatial_scale(), read.what("scale_factor_spatial"), " = ", given, " but dim_mult ",
                  "has ", result.dim_mult.size() - 1, " spatial downsamples and patch_size is ", result.patch_size,
                  ", a scale of ", result.spatial_scale());
  }
  if (config.contains("scale_factor_temporal") && !config["scale_factor_temporal"].is_null()) {
    const int64_t given = read.positive(config["scale_factor_temporal"], "scale_factor_temporal");
    TESSERA_CHECK(given == result.temporal_scale(), read.what("scale_factor_temporal"), " = ", given,
                  " but temperal_downsample gives a scale of ", result.temporal_scale());
  }
  return result;
}

}  // namespace tessera
