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
                  "\", which AutoencoderKLWan needs; a Wan 2.1 vae/config.json has it");
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

int64_t WanVaeConfig::spatial_scale() const { return int64_t{1} << (dim_mult.size() - 1); }

int64_t WanVaeConfig::temporal_scale() const {
  int64_t scale = 1;
  for (bool downsample : temperal_downsample) scale *= downsample ? 2 : 1;
  return scale;
}

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
  TESSERA_CHECK(is_residual.is_boolean(), read.what("is_residual"), " must be true or false");
  TESSERA_CHECK(!is_residual.get<bool>(), source, " has \"is_residual\": true, the Wan 2.2 VAE (residual up/down ",
                "blocks), which tessera does not support; only the Wan 2.1 VAE (is_residual false)");
  TESSERA_CHECK(config.value("patch_size", nlohmann::json()).is_null(), source, " has \"patch_size\" = ",
                config["patch_size"].dump(), "; a patchified VAE (Wan 2.2) is not supported, it must be null");
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
  };
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
  for (int64_t mult : result.dim_mult) {
    // The decoder halves the channels of each upsample's output (dim // 2).
    TESSERA_CHECK(result.decoder_base_dim * mult % 2 == 0, source, ": decoder_base_dim x dim_mult must be even, ",
                  "got ", result.decoder_base_dim, " x ", mult);
  }
  if (config.contains("scale_factor_spatial") && !config["scale_factor_spatial"].is_null()) {
    const int64_t given = read.positive(config["scale_factor_spatial"], "scale_factor_spatial");
    TESSERA_CHECK(given == result.spatial_scale(), read.what("scale_factor_spatial"), " = ", given, " but dim_mult ",
                  "has ", result.dim_mult.size() - 1, " spatial downsamples, a scale of ", result.spatial_scale());
  }
  if (config.contains("scale_factor_temporal") && !config["scale_factor_temporal"].is_null()) {
    const int64_t given = read.positive(config["scale_factor_temporal"], "scale_factor_temporal");
    TESSERA_CHECK(given == result.temporal_scale(), read.what("scale_factor_temporal"), " = ", given,
                  " but temperal_downsample gives a scale of ", result.temporal_scale());
  }
  return result;
}

}  // namespace tessera
