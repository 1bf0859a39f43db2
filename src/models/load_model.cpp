#include "src/models/load_model.h"

#include "common/check.h"
#include "src/io/load_weights.h"
#include "src/models/model_registry.h"

namespace tessera {

std::shared_ptr<Model> load_model(const std::string& model_dir, c10::ScalarType dtype, c10::Device device) {
  // Built on the meta device (create_model_from_dir), so the weights exist once: read straight from the
  // checkpoint into the dtype the model keeps each of them in, whatever the checkpoint's dtype.
  std::shared_ptr<Model> model = create_model_from_dir(model_dir);
  const Model& rule = *model;
  io::load_weights(*model, io::WeightSource::open_dir(model_dir),
                   [&rule, dtype](const std::string& name) { return rule.parameter_dtype(name, dtype); }, device);
  model->eval();
  return model;
}

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return c10::ScalarType::Float;
  if (name == "bf16" || name == "bfloat16") return c10::ScalarType::BFloat16;
  if (name == "fp16" || name == "float16") return c10::ScalarType::Half;
  TESSERA_CHECK(false, "unknown dtype '", name, "'; use fp32, bf16 or fp16");
}

}  // namespace tessera
