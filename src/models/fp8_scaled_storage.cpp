#include "src/models/fp8_scaled_storage.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/module.h>

#include <memory>
#include <utility>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "src/models/fp8_hooks.h"
#include "src/models/fp8_scaled_linear.h"
#include "src/models/layers.h"
#include "src/models/layerwise_casting.h"

namespace tessera {
namespace {

constexpr const char* kHookName = "fp8_scaled";

// The layer's "weight" parameter holds the FP8 values (so parameter_bytes, device moves and parking see them);
// the scales live in the hook and follow the weight's device at the next forward.
class Fp8ScaledHook : public ModelHook {
 public:
  // `scale` defined: the layer is quantised already (a sharded one's shares, at load), with these scales.
  Fp8ScaledHook(c10::ScalarType compute_dtype, at::Tensor scale) : compute_dtype_(compute_dtype), scale_(std::move(scale)) {}

  void initialize_hook(Module& module) override {
    if (!scale_.defined()) store(module);
  }

  bool overrides_forward() const override { return true; }

  Outputs new_forward(Module& module, Args& args) override {
    const at::Tensor& x = args.tensor("hidden_states");
    // One lookup per forward: named_parameters builds a new dictionary at every call.
    const auto parameters = module.named_parameters(/*recurse=*/false);
    Fp8Quantized weight{.values = parameters["weight"], .scale = scale_};
    if (scale_.device() != weight.values.device()) scale_ = weight.scale = scale_.to(weight.values.device());
    const at::Tensor* found_bias = parameters.find("bias");
    const at::Tensor bias = found_bias != nullptr ? *found_bias : at::Tensor();
    return {fp8_scaled_linear(x, weight, bias, compute_dtype_, fp8_matmul_path(x, weight))};
  }

  // Quantises the weight parameter (at registration, and after a reload in the full dtype).
  void store(Module& module) {
    c10::InferenceMode ordinary_tensors(false);
    torch::NoGradGuard no_grad;
    at::Tensor weight = weight_of(module);
    const Fp8Quantized quantized = quantize_fp8_rows(weight);
    weight.set_data(quantized.values);
    scale_ = quantized.scale;
  }

  int64_t scale_bytes() const { return scale_.numel() * static_cast<int64_t>(scale_.element_size()); }

 private:
  static at::Tensor weight_of(Module& module) { return module.named_parameters(/*recurse=*/false)["weight"]; }

  c10::ScalarType compute_dtype_;
  at::Tensor scale_;
};

std::shared_ptr<Fp8ScaledHook> hook_of(Module& module) {
  return fp8_hook_of<Fp8ScaledHook>(module, kHookName);
}

// `scale` undefined: the hook quantises the layer's weight as it is registered.
void register_hook(const Fp8Layer& layer, c10::ScalarType compute_dtype, at::Tensor scale) {
  TESSERA_CHECK(hook_of(*layer.linear) == nullptr, "fp8-scaled: layer '", layer.path, "' is quantised already");
  HookRegistry::get_or_create(*layer.linear)
      .register_hook(kHookName, std::make_shared<Fp8ScaledHook>(fp8_compute_dtype(layer.path, compute_dtype),
                                                                std::move(scale)));
}

}  // namespace

int64_t apply_fp8_scaled(Module& model, const std::vector<std::string>& skip_patterns) {
  const std::vector<Fp8Layer> layers = fp8_layers(model, skip_patterns);
  for (const Fp8Layer& layer : layers) register_hook(layer, layer.linear->weight().scalar_type(), at::Tensor());
  return static_cast<int64_t>(layers.size());
}

void hook_fp8_scaled(const Fp8Layer& layer, c10::ScalarType compute_dtype, at::Tensor scale) {
  TESSERA_INTERNAL_ASSERT(scale.defined() && scale.scalar_type() == at::kFloat, "fp8-scaled: a stored layer's scales");
  register_hook(layer, compute_dtype, std::move(scale));
}

int64_t enable_fp8_scaled(Module& model, const std::string& class_name) {
  const int64_t layers = apply_fp8_scaled(model, fp8_skip_patterns(class_name, "fp8-scaled"));
  TESSERA_CHECK(layers > 0, "FP8 weights (--weights fp8-scaled): the ", class_name, " has no linear layer to "
                "store in float8_e4m3fn (every one is skipped by its patterns); use --weights full");
  return layers;
}

int64_t store_fp8_scaled_weights(Module& model) {
  return for_each_fp8_hook<Fp8ScaledHook>(model, kHookName,
                                          [](Fp8ScaledHook& hook, Module& layer) { hook.store(layer); });
}

int64_t fp8_scale_bytes(Module& model) {
  int64_t bytes = 0;
  for_each_fp8_hook<Fp8ScaledHook>(model, kHookName,
                                   [&](const Fp8ScaledHook& hook, Module&) { bytes += hook.scale_bytes(); });
  return bytes;
}

}  // namespace tessera
