#include "src/models/model.h"

namespace tessera {

ModelMetadata Model::metadata() const {
  ModelMetadata metadata;
  metadata.class_name = class_name();
  metadata.capabilities = capabilities();
  for (const auto& parameter : parameters(/*recurse=*/true)) metadata.parameter_count += parameter.numel();
  metadata.config = config_entries();
  metadata.hook_points.push_back("");  // the model itself
  // include_self=false: named_modules would otherwise need the model to be owned by a shared_ptr.
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (dynamic_cast<const Module*>(item.value().get()) != nullptr) metadata.hook_points.push_back(item.key());
  }
  return metadata;
}

}  // namespace tessera
