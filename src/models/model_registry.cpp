#include "src/models/model_registry.h"

#include <nlohmann/json.hpp>

#include <mutex>
#include <optional>

#include "common/check.h"
#include "common/join.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/parameters.h"
#include "src/models/wan/wan_transformer.h"

namespace tessera {
namespace {

struct ModelClass {
  std::string class_name;
  ModelFactory create;
};

struct ModelClasses {
  std::mutex mutex;
  std::vector<ModelClass> classes;
};

// The library's own classes, then whatever register_model_class adds (explicitly, at run time: the library is
// static, and the linker drops object files nothing refers to, self-registering statics included).
ModelClasses& model_classes() {
  static ModelClasses* instance = [] {
    auto* built_in = new ModelClasses;
    built_in->classes = {
        {.class_name = WanTransformer3DModel::kClassName,
         .create = [](const nlohmann::json& config) -> std::shared_ptr<Model> {
           return std::make_shared<WanTransformer3DModel>(wan_config_from_json(config));
         }},
        {.class_name = FluxTransformer2DModel::kClassName,
         .create = [](const nlohmann::json& config) -> std::shared_ptr<Model> {
           return std::make_shared<FluxTransformer2DModel>(flux_config_from_json(config));
         }},
    };
    return built_in;
  }();
  return *instance;
}

std::optional<ModelFactory> find_model_class(const std::string& class_name) {
  ModelClasses& registry = model_classes();
  const std::lock_guard lock(registry.mutex);
  for (const auto& model_class : registry.classes) {
    if (class_name == model_class.class_name) return model_class.create;
  }
  return std::nullopt;
}

}  // namespace

void register_model_class(const std::string& class_name, ModelFactory create) {
  ModelClasses& registry = model_classes();
  const std::lock_guard lock(registry.mutex);
  for (auto& model_class : registry.classes) {
    if (model_class.class_name == class_name) {
      model_class.create = create;
      return;
    }
  }
  registry.classes.push_back({.class_name = class_name, .create = create});
}

std::vector<std::string> supported_model_classes() {
  ModelClasses& registry = model_classes();
  const std::lock_guard lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& model_class : registry.classes) names.push_back(model_class.class_name);
  return names;
}

bool is_supported_model_class(const std::string& class_name) { return find_model_class(class_name).has_value(); }

std::shared_ptr<Model> create_model(const std::string& class_name, const nlohmann::json& config) {
  const auto create = find_model_class(class_name);
  TESSERA_CHECK(create.has_value(), "unsupported model class '", class_name, "'; supported classes: ",
                join(supported_model_classes()));
  return (*create)(config);
}

std::shared_ptr<Model> create_model_from_dir(const PartConfig& model_dir) {
  const std::string& class_name = model_dir.named_class();
  try {
    MetaParameterScope shape_only;
    return create_model(class_name, model_dir.json());
  } catch (const Error& error) {
    TESSERA_CHECK(false, "cannot build the model of ", model_dir.path(), ": ", error.what());
  }
}

}  // namespace tessera
