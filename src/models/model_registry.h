#pragma once
// The model classes tessera can build, looked up by their diffusers class name ("_class_name").
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

#include "src/models/model.h"
#include "src/models/part_config.h"

namespace tessera {

using ModelFactory = std::shared_ptr<Model> (*)(const nlohmann::json& config);

// Adds a model class outside the library's own (WanTransformer3DModel, FluxTransformer2DModel): a test model, a
// user's. Registering a class name twice replaces the earlier one.
void register_model_class(const std::string& class_name, ModelFactory create);

// Class names in the order they are listed in error messages.
std::vector<std::string> supported_model_classes();
bool is_supported_model_class(const std::string& class_name);

// A model of class `class_name` built from `config`, with freshly initialised weights. Throws naming the
// class and the supported classes when the class is unknown.
std::shared_ptr<Model> create_model(const std::string& class_name, const nlohmann::json& config);

// The model a diffusers directory describes: its config.json picks the class and the sizes. Its parameters
// are shape-only (the meta device, parameters.h): nothing is allocated, so describing a 14B model costs
// nothing; the weight loader gives them their data.
std::shared_ptr<Model> create_model_from_dir(const PartConfig& model_dir);

}  // namespace tessera
