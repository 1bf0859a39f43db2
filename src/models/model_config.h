#pragma once
// Reading a model directory's config.json (the diffusers layout), with errors that name the file.
#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>

namespace tessera {

// The parsed DIR/config.json. Throws tessera::Error naming the directory when it or its config.json is
// missing, and naming the file and position when the JSON is malformed or not an object.
nlohmann::json read_model_config(const std::filesystem::path& model_dir);

// The config's "_class_name" (the model class diffusers would build); throws when it is absent.
std::string config_class_name(const nlohmann::json& config, const std::filesystem::path& model_dir);

}  // namespace tessera
