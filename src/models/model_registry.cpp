#include "src/models/model_registry.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/model_config.h"
#include "src/models/parameters.h"
#include "src/models/tiny/tiny_dit.h"
#include "src/models/wan/wan_transformer.h"

namespace tessera {
namespace {

struct ModelClass {
  const char* class_name;
  std::shared_ptr<Model> (*create)(const nlohmann::json& config);
};

// An explicit table rather than self-registering statics: the library is static, and the linker drops
// object files nothing refers to, registrations included.
const ModelClass kModelClasses[] = {
    {WanTransformer3DModel::kClassName, [](const nlohmann::json& config) -> std::shared_ptr<Model> {
       return std::make_shared<WanTransformer3DModel>(wan_config_from_json(config));
     }},
    {FluxTransformer2DModel::kClassName, [](const nlohmann::json& config) -> std::shared_ptr<Model> {
       return std::make_shared<FluxTransformer2DModel>(flux_config_from_json(config));
     }},
    {TinyDiTModel::kClassName, [](const nlohmann::json& config) -> std::shared_ptr<Model> {
       return std::make_shared<TinyDiTModel>(tiny_dit_config_from_json(config));
     }},
};

const ModelClass* find_model_class(const std::string& class_name) {
  for (const auto& model_class : kModelClasses) {
    if (class_name == model_class.class_name) return &model_class;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> supported_model_classes() {
  std::vector<std::string> names;
  for (const auto& model_class : kModelClasses) names.emplace_back(model_class.class_name);
  return names;
}

bool is_supported_model_class(const std::string& class_name) { return find_model_class(class_name) != nullptr; }

std::shared_ptr<Model> create_model(const std::string& class_name, const nlohmann::json& config) {
  const ModelClass* model_class = find_model_class(class_name);
  if (model_class == nullptr) {
    std::string supported;
    for (const auto& name : supported_model_classes()) supported += (supported.empty() ? "" : ", ") + name;
    TESSERA_CHECK(false, "unsupported model class '", class_name, "'; supported classes: ", supported);
  }
  return model_class->create(config);
}

std::shared_ptr<Model> create_model_from_dir(const std::filesystem::path& model_dir) {
  const nlohmann::json config = read_model_config(model_dir);
  const std::string class_name = config_class_name(config, model_dir);
  try {
    MetaParameterScope shape_only;
    return create_model(class_name, config);
  } catch (const Error& error) {
    TESSERA_CHECK(false, "cannot build the model of ", model_dir / "config.json", ": ", error.what());
  }
}

}  // namespace tessera
