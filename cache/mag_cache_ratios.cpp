#include "cache/mag_cache_ratios.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/check.h"
#include "hooks/cache_inputs.h"
#include "hooks/hookable_model.h"

namespace tessera {
namespace {

bool names_file(const std::string& name) {
  return name.find('/') != std::string::npos ||
         (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0);
}

std::vector<double> read_ratios_file(const std::string& path) {
  std::ifstream file(path);
  TESSERA_CHECK(file.good(), "magcache ratios file ", path, " cannot be read; write it with `tessera ",
                "calibrate-magcache --model DIR --out ", path, "`, or give ratios=<numbers> or a name the model carries");
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(file);
  } catch (const nlohmann::json::exception& error) {
    TESSERA_CHECK(false, "magcache ratios file ", path, " is not JSON: ", error.what());
  }
  const nlohmann::json& list = document.is_object() && document.contains("ratios") ? document["ratios"] : document;
  TESSERA_CHECK(list.is_array() && !list.empty(), "magcache ratios file ", path,
                " holds no ratios: expected a list of numbers or {\"ratios\": [...]}");
  std::vector<double> ratios;
  for (const auto& value : list) {
    TESSERA_CHECK(value.is_number(), "magcache ratios file ", path, ": every ratio must be a number, got ", value.dump());
    ratios.push_back(value.get<double>());
  }
  return ratios;
}

}  // namespace

MagCacheConfig with_model_ratios(const HookableModel& model, MagCacheConfig config) {
  const auto* name = std::get_if<std::string>(&config.ratios);
  if (config.calibrate || name == nullptr) return config;
  if (names_file(*name)) {
    config.ratios = read_ratios_file(*name);
    return config;
  }
  const auto* declaring = dynamic_cast<const DeclaresCacheInputs*>(&model);
  std::string carried;
  if (declaring != nullptr) {
    for (const auto& [carried_name, ratios] : declaring->magcache_ratios()) {
      if (carried_name == *name) {
        config.ratios = ratios;
        return config;
      }
      carried += (carried.empty() ? "" : ", ") + carried_name;
    }
  }
  TESSERA_CHECK(false, model.class_name(), " carries no MagCache ratios \"", *name, "\" (it carries: ",
                carried.empty() ? "none" : carried, "); calibrate them with `tessera calibrate-magcache --model DIR ",
                "--out FILE` and give ratios=FILE, or give ratios=<a;b;...>");
  return config;
}

std::vector<float> magcache_ratios_for_steps(const std::vector<double>& ratios, int64_t steps) {
  std::vector<float> values(ratios.begin(), ratios.end());  // torch.tensor(list): float32
  const auto length = static_cast<int64_t>(values.size());
  if (length == steps || values.empty() || steps <= 0) return values;
  if (steps == 1) return {values.back()};
  const auto scale = static_cast<float>(static_cast<double>(length - 1) / static_cast<double>(steps - 1));
  std::vector<float> interpolated;
  for (int64_t i = 0; i < steps; ++i) {
    // std::nearbyint rounds half to even in the default rounding mode, as torch.round.
    const auto index = static_cast<int64_t>(std::nearbyint(static_cast<float>(i) * scale));
    interpolated.push_back(values[static_cast<size_t>(std::min(index, length - 1))]);
  }
  return interpolated;
}

std::string magcache_calibration_json(const std::vector<std::pair<std::string, std::vector<double>>>& contexts) {
  // The conditional branch's ratios are the ones to use (as the published ones); else the first context's.
  const auto chosen = std::find_if(contexts.begin(), contexts.end(), [](const auto& c) { return c.first == "cond"; });
  const auto& ratios = chosen != contexts.end() ? chosen->second
                                                : (contexts.empty() ? std::vector<double>{} : contexts.front().second);
  nlohmann::json document;
  document["steps"] = ratios.size();
  document["ratios"] = ratios;
  nlohmann::json by_context = nlohmann::json::object();
  for (const auto& [name, ratios] : contexts) by_context[name] = ratios;
  document["contexts"] = by_context;
  return document.dump(2) + "\n";
}

}  // namespace tessera
