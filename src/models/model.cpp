#include "src/models/model.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"

namespace tessera {

ModelMetadata Model::metadata() const {
  ModelMetadata metadata;
  metadata.class_name = class_name();
  metadata.capabilities = capabilities();
  // Sharded weights (--shard-weights) hold empty tensors between their gathers: count what they stand for.
  if (const auto sharded = sharded_weights_of(const_cast<Model&>(*this))) {
    metadata.parameter_count = sharded->parameter_count();
  } else {
    for (const auto& parameter : parameters(/*recurse=*/true)) metadata.parameter_count += parameter.numel();
  }
  metadata.config = config_entries();
  metadata.hook_points.push_back("");  // the model itself
  // include_self=false: named_modules would otherwise need the model to be owned by a shared_ptr.
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (dynamic_cast<const Module*>(item.value().get()) != nullptr) metadata.hook_points.push_back(item.key());
  }
  return metadata;
}

c10::ScalarType Model::parameter_dtype(const std::string& /*name*/, c10::ScalarType dtype) const { return dtype; }

void Model::set_dtype(c10::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  auto cast = [&](const std::string& name, at::Tensor& tensor) {
    if (tensor.defined() && at::isFloatingType(tensor.scalar_type())) {
      tensor.set_data(tensor.to(parameter_dtype(name, dtype)));
    }
  };
  for (auto& item : named_parameters(/*recurse=*/true)) cast(item.key(), item.value());
  for (auto& item : named_buffers(/*recurse=*/true)) cast(item.key(), item.value());
}

}  // namespace tessera
