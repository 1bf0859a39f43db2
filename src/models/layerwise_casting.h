#pragma once
// diffusers' layerwise casting (hooks/layerwise_casting.py, ModelMixin.enable_layerwise_casting): the weights of
// a model's linear layers are stored in a small dtype (FP8), and each layer is cast up to the dtype it computes
// in just before its forward and back after it, by a hook on the layer. Layers whose dotted path, or the path of
// a module above them, matches a skip pattern (a regular expression searched anywhere in the path: norms,
// embeddings, the input and output projections) keep their weights as loaded, as do parameters that are no
// linear layer's (Wan's scale_shift_table). The weights and biases of a cast layer are both cast, as
// torch.nn.Module.to casts both.
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Module;
class Linear;

// diffusers' DEFAULT_SKIP_MODULES_PATTERN.
const std::vector<std::string>& default_layerwise_casting_skip_patterns();

// A linear layer FP8 storage takes, by its dotted path below the model.
struct Fp8Layer {
  std::string path;
  Linear* linear = nullptr;
};

// The linear layers below `model` that no skip pattern excludes (what diffusers casts), shared by --weights fp8
// and fp8-scaled. Throws tessera::Error when a convolution or embedding that diffusers would cast is not skipped
// (tessera stores linear layers only).
std::vector<Fp8Layer> fp8_layers(Module& model, const std::vector<std::string>& skip_patterns);

// The dtype the layer at `path` computes in: `dtype`, the one it was loaded in (a sharded layer's parameters hold
// their storage dtype), which must be fp32, bf16 or fp16 (else tessera::Error naming --dtype).
c10::ScalarType fp8_compute_dtype(const std::string& path, c10::ScalarType dtype);

// diffusers' default patterns plus those the class `class_name` adds (_keep_in_fp32_modules and
// _skip_layerwise_casting_patterns), as ModelMixin.enable_layerwise_casting. Throws tessera::Error for a class
// tessera knows no patterns of, naming `flag` (the --weights value asked for).
std::vector<std::string> fp8_skip_patterns(const std::string& class_name, const std::string& flag);

// Hooks every linear layer below `model` that no skip pattern excludes, storing its parameters in
// `storage_dtype` at once and computing in the dtype they had (diffusers' compute_dtype, here the dtype the model
// was loaded in). Returns the layers hooked. Throws tessera::Error when a convolution or embedding that diffusers
// would cast is not skipped (tessera casts linear layers only), or when a layer already has the hook.
int64_t apply_layerwise_casting(Module& model, c10::ScalarType storage_dtype,
                                const std::vector<std::string>& skip_patterns);

// Hooks one layer to compute in `compute_dtype`, storing its parameters in `storage_dtype` (a no-op for parameters
// already in it: the shares of a sharded model, stored at load, sharded_fp8.h). Throws tessera::Error when the
// layer already has the hook, or for a compute dtype FP8 storage does not take (fp8_compute_dtype).
void hook_layerwise_casting(const Fp8Layer& layer, c10::ScalarType storage_dtype, c10::ScalarType compute_dtype);

// apply_layerwise_casting with fp8_skip_patterns(class_name). Throws tessera::Error for a class tessera knows no
// patterns of, or a model with no layer to cast.
int64_t enable_layerwise_casting(Module& model, const std::string& class_name, c10::ScalarType storage_dtype);

// Casts the parameters of every hooked layer below `model` to their storage dtype again: after their weights were
// read again from the files (an idle expert reloaded) in the full dtype. Returns the layers cast.
int64_t store_layerwise_cast_weights(Module& model);

// The bytes of every parameter below `model` (what its weights take).
int64_t parameter_bytes(Module& model);

}  // namespace tessera
