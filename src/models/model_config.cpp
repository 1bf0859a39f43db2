#include "src/models/model_config.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/io/json_file.h"

namespace tessera {

nlohmann::json read_model_config(const std::filesystem::path& model_dir) {
  TESSERA_CHECK(std::filesystem::is_directory(model_dir), "model directory ", model_dir, " does not exist");
  const auto path = model_dir / "config.json";
  TESSERA_CHECK(std::filesystem::is_regular_file(path), "model directory ", model_dir,
                " has no config.json (a diffusers model directory holds config.json and its weights)");
  return io::read_json_object(path.string());
}

std::string config_class_name(const nlohmann::json& config, const std::filesystem::path& model_dir) {
  const auto it = config.find("_class_name");
  TESSERA_CHECK(it != config.end() && it->is_string(), model_dir / "config.json",
                " has no \"_class_name\" string naming the model class");
  return it->get<std::string>();
}

}  // namespace tessera
