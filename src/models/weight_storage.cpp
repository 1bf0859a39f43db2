#include "src/models/weight_storage.h"

#include "common/check.h"
#include "common/log.h"
#include "src/models/fp8_scaled_storage.h"
#include "src/models/layerwise_casting.h"
#include "src/models/model.h"

namespace tessera {

WeightStorage parse_weight_storage(const std::string& text) {
  if (text == "full") return WeightStorage::full;
  if (text == "fp8-scaled") return WeightStorage::fp8_scaled;
  TESSERA_CHECK(text == "fp8", "--weights '", text, "': use full (as loaded), fp8 (float8_e4m3fn at rest, each "
                "linear layer cast up for its forward, as diffusers' enable_layerwise_casting) or fp8-scaled "
                "(float8_e4m3fn with a scale per output channel)");
  return WeightStorage::fp8;
}

const char* weight_storage_name(WeightStorage storage) {
  switch (storage) {
    case WeightStorage::fp8: return "fp8";
    case WeightStorage::fp8_scaled: return "fp8-scaled";
    case WeightStorage::full: break;
  }
  return "full";
}

void store_weights(Model& transformer, WeightStorage storage) {
  if (storage == WeightStorage::full) return;
  const int64_t before = parameter_bytes(transformer);
  const int64_t layers = storage == WeightStorage::fp8
                             ? enable_layerwise_casting(transformer, transformer.class_name(), at::kFloat8_e4m3fn)
                             : enable_fp8_scaled(transformer, transformer.class_name());
  const int64_t after = parameter_bytes(transformer) + fp8_scale_bytes(transformer);
  TESSERA_LOG_INFO(weight_storage_name(storage), " weights: ", layers, " linear layers of the ",
                   transformer.class_name(), " stored in float8_e4m3fn; its parameters ", before, " -> ", after,
                   " bytes", storage == WeightStorage::fp8_scaled ? " (with the fp32 scales)" : "");
}

void store_weights_again(Model& transformer) {
  store_layerwise_cast_weights(transformer);
  store_fp8_scaled_weights(transformer);
}

}  // namespace tessera
