#pragma once
// How a pipeline's transformers keep their weights (--weights): as loaded, or in FP8 by diffusers' layerwise
// casting (layerwise_casting.h): float8_e4m3fn at rest, each linear layer cast up to the loaded dtype for its
// forward.
#include <string>

namespace tessera {

class Model;

enum class WeightStorage { full, fp8 };

// "full" or "fp8"; anything else throws tessera::Error naming both.
WeightStorage parse_weight_storage(const std::string& text);
const char* weight_storage_name(WeightStorage storage);

// Stores `transformer`'s weights as `storage` says (nothing for full), logging the layers cast and its parameter
// bytes before and after. Throws tessera::Error for a model fp8 cannot take (enable_layerwise_casting).
void store_weights(Model& transformer, WeightStorage storage);

}  // namespace tessera
