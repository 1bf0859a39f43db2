#pragma once
// How a pipeline's transformers keep their weights (--weights): as loaded; in FP8 by diffusers' layerwise
// casting (layerwise_casting.h): float8_e4m3fn at rest, each linear layer cast up to the loaded dtype for its
// forward; or in FP8 with a scale per output channel (fp8_scaled_storage.h), multiplied in FP8 where the GPU can.
#include <string>

namespace tessera {

class Model;

enum class WeightStorage { full, fp8, fp8_scaled };

// "full", "fp8" or "fp8-scaled"; anything else throws tessera::Error naming them.
WeightStorage parse_weight_storage(const std::string& text);
const char* weight_storage_name(WeightStorage storage);

// Stores `transformer`'s weights as `storage` says (nothing for full), logging the layers stored and its
// parameter bytes before and after. Throws tessera::Error for a model FP8 cannot take.
void store_weights(Model& transformer, WeightStorage storage);

// Stores the FP8 layers of `transformer` again after its weights were read again from the files in the full dtype
// (an idle expert reloaded): cast (fp8) or quantised (fp8-scaled) as at load. Nothing for full.
void store_weights_again(Model& transformer);

}  // namespace tessera
