#include "src/models/clip/clip_layer_config.h"

#include <nlohmann/json.hpp>

#include <map>

#include "common/check.h"

namespace tessera {

ClipActivation clip_activation_from_json(const nlohmann::json& config, const std::string& what) {
  std::string name = "quick_gelu";
  if (config.contains("hidden_act")) {
    TESSERA_CHECK(config.at("hidden_act").is_string(), what,
                  " \"hidden_act\" must be a string such as \"quick_gelu\", got ", config.at("hidden_act").dump());
    name = config.at("hidden_act").get<std::string>();
  }
  static const std::map<std::string, ClipActivation> activations = {
      {"quick_gelu", ClipActivation::kQuickGelu},
      {"gelu", ClipActivation::kGelu},
      {"gelu_new", ClipActivation::kGeluTanh},
      {"gelu_pytorch_tanh", ClipActivation::kGeluTanh}};
  const auto activation = activations.find(name);
  TESSERA_CHECK(activation != activations.end(), what, " \"hidden_act\" = \"", name,
                "\" is not supported; use \"quick_gelu\", \"gelu\" or \"gelu_new\"");
  return activation->second;
}

double clip_layer_norm_eps_from_json(const nlohmann::json& config, const std::string& what) {
  if (!config.contains("layer_norm_eps")) return 1e-5;
  const auto& value = config.at("layer_norm_eps");
  TESSERA_CHECK(value.is_number() && value.get<double>() > 0, what,
                " \"layer_norm_eps\" must be a positive number, got ", value.dump());
  return value.get<double>();
}

}  // namespace tessera
