#include "src/models/part_config.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/io/json_file.h"

namespace tessera {
namespace {

std::string class_named_by(const nlohmann::json& config) {
  if (const auto found = config.find("_class_name"); found != config.end() && found->is_string()) {
    return found->get<std::string>();
  }
  // transformers' configs name the class this way.
  if (const auto listed = config.find("architectures");
      listed != config.end() && listed->is_array() && listed->size() == 1 && (*listed)[0].is_string()) {
    return (*listed)[0].get<std::string>();
  }
  return {};
}

}  // namespace

PartConfig::PartConfig(const std::filesystem::path& dir) : dir_(dir.string()), path_((dir / "config.json").string()) {
  TESSERA_CHECK(std::filesystem::is_directory(dir), "model directory ", dir, " does not exist");
  TESSERA_CHECK(std::filesystem::is_regular_file(path_), "model directory ", dir,
                " has no config.json (a diffusers model directory holds config.json and its weights)");
  json_ = std::make_shared<const nlohmann::json>(io::read_json_object(path_));
  class_name_ = class_named_by(*json_);
}

PartConfig::PartConfig(const std::string& dir) : PartConfig(std::filesystem::path(dir)) {}
PartConfig::PartConfig(const char* dir) : PartConfig(std::filesystem::path(dir)) {}

const std::string& PartConfig::named_class() const {
  TESSERA_CHECK(!class_name_.empty(), path_, " names no class (no \"_class_name\" string, and no one-entry ",
                "\"architectures\")");
  return class_name_;
}

void PartConfig::check_class(const std::string& expected) const {
  TESSERA_CHECK(named_class() == expected, path_, " names class \"", class_name_, "\", expected \"", expected, "\"");
}

}  // namespace tessera
