#include "src/models/autoencoder_kl/autoencoder_kl_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

constexpr int64_t kMaxLevels = 16;
constexpr double kDefaultScalingFactor = 0.18215;  // diffusers' default: Stable Diffusion 1.x's VAE

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string source) : config_(config), source_(std::move(source)) {}

  std::string what(const std::string& key) const { return source_ + " \"" + key + "\""; }

  bool present(const std::string& key) const { return config_.contains(key) && !config_.at(key).is_null(); }

  const nlohmann::json& required(const std::string& key) const {
    TESSERA_CHECK(present(key), source_, " lacks \"", key, "\", which AutoencoderKL needs; a diffusers ",
                  "vae/config.json has it");
    return config_.at(key);
  }

  int64_t positive(const nlohmann::json& value, const std::string& key) const {
    return io::json_integer<int64_t>(value, what(key), 1, kMaxConfigDimension);
  }
  int64_t optional_positive(const std::string& key, int64_t fallback) const {
    return present(key) ? positive(config_.at(key), key) : fallback;
  }

  bool optional_boolean(const std::string& key, bool fallback) const {
    if (!present(key)) return fallback;
    TESSERA_CHECK(config_.at(key).is_boolean(), what(key), " must be true or false, got ", config_.at(key).dump());
    return config_.at(key).get<bool>();
  }

  double finite_number(const nlohmann::json& value, const std::string& key) const {
    TESSERA_CHECK(value.is_number() && std::isfinite(value.get<double>()), what(key), " must be a finite number, ",
                  "got ", value.dump());
    return value.get<double>();
  }

  // A list of block types, one per level, each `expected`.
  void check_block_types(const std::string& key, const std::string& expected, size_t levels) const {
    if (!present(key)) return;
    const nlohmann::json& types = config_.at(key);
    TESSERA_CHECK(types.is_array() && types.size() == levels, what(key), " must list one block type per entry of ",
                  "block_out_channels (", levels, "), got ", types.dump());
    for (const auto& type : types) {
      TESSERA_CHECK(type == expected, what(key), " = ", types.dump(), ": tessera's AutoencoderKL has only \"",
                    expected, "\" blocks");
    }
  }

 private:
  const nlohmann::json& config_;
  std::string source_;
};

}  // namespace

int64_t AutoencoderKlConfig::spatial_scale() const { return int64_t{1} << (block_out_channels.size() - 1); }

AutoencoderKlConfig autoencoder_kl_config_from_json(const nlohmann::json& config, const std::string& source) {
  TESSERA_CHECK(config.is_object(), source, " must hold a JSON object");
  static const std::set<std::string> known = {
      "_class_name", "_diffusers_version", "_name_or_path", "in_channels", "out_channels", "down_block_types",
      "up_block_types", "block_out_channels", "layers_per_block", "act_fn", "latent_channels", "norm_num_groups",
      "sample_size", "scaling_factor", "shift_factor", "latents_mean", "latents_std", "force_upcast",
      "use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"};
  for (const auto& [key, value] : config.items()) {
    TESSERA_CHECK(known.count(key), "unknown AutoencoderKL config key \"", key, "\" = ", value.dump(), " in ",
                  source, "; it may change the architecture, so tessera refuses to guess");
  }
  const ConfigReader read(config, source);

  const nlohmann::json& channels = read.required("block_out_channels");
  TESSERA_CHECK(channels.is_array() && !channels.empty() && static_cast<int64_t>(channels.size()) <= kMaxLevels,
                read.what("block_out_channels"), " must be a list of 1 to ", kMaxLevels, " channel counts, got ",
                channels.dump());
  AutoencoderKlConfig result{
      .latent_channels = read.positive(read.required("latent_channels"), "latent_channels"),
      .out_channels = read.optional_positive("out_channels", 3),
      .block_out_channels = {},
      .layers_per_block = read.present("layers_per_block")
                              ? io::json_integer<int64_t>(config.at("layers_per_block"),
                                                          read.what("layers_per_block"), 1, kMaxConfigLayers)
                              : 1,
      .norm_num_groups = read.optional_positive("norm_num_groups", 32),
      .scaling_factor = read.present("scaling_factor")
                            ? read.finite_number(config.at("scaling_factor"), "scaling_factor")
                            : kDefaultScalingFactor,
      .shift_factor = std::nullopt,
      .use_post_quant_conv = read.optional_boolean("use_post_quant_conv", true),
      .mid_block_add_attention = read.optional_boolean("mid_block_add_attention", true),
  };
  for (const auto& item : channels) result.block_out_channels.push_back(read.positive(item, "block_out_channels"));
  for (int64_t count : result.block_out_channels) {
    TESSERA_CHECK(count % result.norm_num_groups == 0, source, ": every entry of \"block_out_channels\" ",
                  channels.dump(), " must be a multiple of \"norm_num_groups\" = ", result.norm_num_groups);
  }
  TESSERA_CHECK(result.scaling_factor != 0.0, read.what("scaling_factor"), " must not be 0 (latents are divided ",
                "by it)");
  if (read.present("shift_factor")) result.shift_factor = read.finite_number(config.at("shift_factor"), "shift_factor");

  read.optional_positive("in_channels", 3);  // the encoder's; checked, not used
  read.optional_boolean("use_quant_conv", true);
  read.optional_boolean("force_upcast", true);
  if (read.present("act_fn")) {
    TESSERA_CHECK(config.at("act_fn") == "silu", read.what("act_fn"), " = ", config.at("act_fn").dump(),
                  " is not supported; only \"silu\"");
  }
  read.check_block_types("up_block_types", "UpDecoderBlock2D", result.block_out_channels.size());
  read.check_block_types("down_block_types", "DownEncoderBlock2D", result.block_out_channels.size());
  for (const std::string key : {"latents_mean", "latents_std"}) {
    TESSERA_CHECK(!read.present(key), read.what(key), " = ", config.at(key).dump(), " is not supported: tessera ",
                  "de-normalises AutoencoderKL latents with scaling_factor and shift_factor only, as FluxPipeline ",
                  "does; it must be null");
  }
  return result;
}

}  // namespace tessera
