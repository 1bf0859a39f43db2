#pragma once
// A model part's folder (transformer/, vae/, text_encoder/, ... in the diffusers or transformers layout) with its
// config.json, read once. A pipeline reads it to check the class model_index.json lists, then hands the same
// PartConfig to the part's loader, which does not read the file again. A path converts to a PartConfig (reading
// the file then), so a caller that holds only a folder's path calls a loader with the path.
#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace tessera {

class PartConfig {
 public:
  // Throws tessera::Error naming the folder when it or its config.json is missing, and naming the file and
  // position when the JSON is malformed or not an object.
  PartConfig(const std::filesystem::path& dir);  // NOLINT(google-explicit-constructor): a path is a part's folder
  PartConfig(const std::string& dir);            // NOLINT(google-explicit-constructor)
  PartConfig(const char* dir);                   // NOLINT(google-explicit-constructor)

  const std::string& dir() const { return dir_; }
  // dir/config.json, for error messages.
  const std::string& path() const { return path_; }
  const nlohmann::json& json() const { return *json_; }
  // The class the config names: diffusers' "_class_name", or transformers' one-entry "architectures". Empty
  // when it names none.
  const std::string& class_name() const { return class_name_; }
  // class_name(), or an error naming the file when the config names no class.
  const std::string& named_class() const;
  // An error naming the file and both classes unless the config names `expected`.
  void check_class(const std::string& expected) const;

 private:
  std::string dir_;
  std::string path_;
  std::shared_ptr<const nlohmann::json> json_;
  std::string class_name_;
};

}  // namespace tessera
