#include "src/models/weight_storage.h"

#include "common/check.h"
#include "common/log.h"
#include "src/models/layerwise_casting.h"
#include "src/models/model.h"

namespace tessera {

WeightStorage parse_weight_storage(const std::string& text) {
  if (text == "full") return WeightStorage::full;
  TESSERA_CHECK(text == "fp8", "--weights '", text, "': use full (as loaded) or fp8 (float8_e4m3fn at rest, each "
                "linear layer cast up for its forward, as diffusers' enable_layerwise_casting)");
  return WeightStorage::fp8;
}

const char* weight_storage_name(WeightStorage storage) { return storage == WeightStorage::fp8 ? "fp8" : "full"; }

void store_weights(Model& transformer, WeightStorage storage) {
  if (storage == WeightStorage::full) return;
  const int64_t before = parameter_bytes(transformer);
  const int64_t layers =
      enable_layerwise_casting(transformer, transformer.class_name(), c10::ScalarType::Float8_e4m3fn);
  const int64_t after = parameter_bytes(transformer);
  TESSERA_LOG_INFO("fp8 weights: ", layers, " linear layers of the ", transformer.class_name(),
                   " stored in float8_e4m3fn; its parameters ", before, " -> ", after, " bytes");
}

}  // namespace tessera
