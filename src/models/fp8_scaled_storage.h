#pragma once
// --weights fp8-scaled: the linear layers FP8 storage takes (the ones diffusers' layerwise casting casts,
// layerwise_casting.h) keep their weight as float8_e4m3fn with an fp32 scale per output channel, computed at load
// (fp8_scaled_linear.h); biases stay in the compute dtype. Each forward runs the layer through
// fp8_scaled_linear: FP8 matmul where the device has it, the dequantising reference elsewhere. Beyond diffusers:
// no parity fixture, tested against ATen and for quality.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Module;
struct Fp8Layer;

// Quantises every layer fp8_layers(model, skip_patterns) selects and hooks its forward. Returns the layers
// hooked. Throws tessera::Error as fp8_layers does, or when a layer already has the hook.
int64_t apply_fp8_scaled(Module& model, const std::vector<std::string>& skip_patterns);

// Hooks one layer whose weight is stored in float8_e4m3fn already, with `scale` (fp32, one per row) found with it
// (a sharded layer, quantised at load: sharded_fp8.h), to compute in `compute_dtype`. Nothing is quantised again.
void hook_fp8_scaled(const Fp8Layer& layer, c10::ScalarType compute_dtype, at::Tensor scale);

// apply_fp8_scaled with fp8_skip_patterns(class_name). Throws tessera::Error for a class tessera knows no
// patterns of, or a model with no layer to quantise.
int64_t enable_fp8_scaled(Module& model, const std::string& class_name);

// Quantises the weights of every hooked layer below `model` again: after they were read again from the files
// (an idle expert reloaded) in the full dtype. Returns the layers quantised.
int64_t store_fp8_scaled_weights(Module& model);

// The bytes of the scale vectors below `model` (fp32, one per output channel of each hooked layer): what
// fp8-scaled adds to parameter_bytes.
int64_t fp8_scale_bytes(Module& model);

}  // namespace tessera
