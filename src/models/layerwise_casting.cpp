#include "src/models/layerwise_casting.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <map>
#include <memory>
#include <regex>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "src/models/fp8_hooks.h"
#include "src/models/embedding_layer.h"
#include "src/models/layers.h"

namespace tessera {
namespace {

constexpr const char* kHookName = "layerwise_casting";

// diffusers' _keep_in_fp32_modules and _skip_layerwise_casting_patterns of each class tessera casts.
struct ClassPatterns {
  std::vector<std::string> keep_in_fp32_modules;
  std::vector<std::string> skip_layerwise_casting_patterns;
};
const std::map<std::string, ClassPatterns>& class_patterns() {
  static const std::map<std::string, ClassPatterns> patterns{
      {"WanTransformer3DModel",
       {.keep_in_fp32_modules = {"rope", "time_embedder", "scale_shift_table", "norm1", "norm2", "norm3"},
        .skip_layerwise_casting_patterns = {"patch_embedding", "condition_embedder", "norm"}}},
      {"FluxTransformer2DModel",
       {.keep_in_fp32_modules = {}, .skip_layerwise_casting_patterns = {"pos_embed", "norm"}}},
  };
  return patterns;
}

// The hooked layer's parameters live in the storage dtype; for its forward they are swapped for copies in the
// compute dtype and put back after it. Putting back the stored tensors gives the bits a cast back would give
// (FP8 -> wider -> FP8 is exact) without casting again.
class LayerwiseCastingHook : public ModelHook {
 public:
  LayerwiseCastingHook(c10::ScalarType storage_dtype, c10::ScalarType compute_dtype)
      : storage_dtype_(storage_dtype), compute_dtype_(compute_dtype) {}

  void initialize_hook(Module& module) override { store(module); }

  void pre_forward(Module& module, Args& /*args*/) override {
    // Parameters stay ordinary tensors inside a generation's inference mode.
    c10::InferenceMode ordinary_tensors(false);
    torch::NoGradGuard no_grad;
    stored_.clear();
    for (at::Tensor& parameter : module.parameters(/*recurse=*/false)) {
      stored_.push_back(parameter.data());
      parameter.set_data(parameter.to(compute_dtype_));
    }
  }

  void post_forward(Module& module, Outputs& /*outputs*/) override {
    c10::InferenceMode ordinary_tensors(false);
    size_t i = 0;
    for (at::Tensor& parameter : module.parameters(/*recurse=*/false)) parameter.set_data(stored_.at(i++));
    stored_.clear();
  }

  // Casts the parameters to the storage dtype (at registration, and after a reload); a sharded layer's, stored
  // at load and empty between gathers, are in it already, and to() leaves them as they are.
  void store(Module& module) const {
    c10::InferenceMode ordinary_tensors(false);
    torch::NoGradGuard no_grad;
    for (at::Tensor& parameter : module.parameters(/*recurse=*/false)) {
      if (parameter.defined()) parameter.set_data(parameter.to(storage_dtype_));
    }
  }

 private:
  c10::ScalarType storage_dtype_, compute_dtype_;
  std::vector<at::Tensor> stored_;
};

bool casts_in_diffusers(const torch::nn::Module& module) {
  return dynamic_cast<const Linear*>(&module) != nullptr ||
         dynamic_cast<const PatchEmbedding3d*>(&module) != nullptr ||
         dynamic_cast<const Embedding*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::LinearImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::Conv1dImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::Conv2dImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::Conv3dImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::EmbeddingImpl*>(&module) != nullptr;
}

// diffusers walks down from the model and stops at the first module a pattern matches, so a layer is skipped
// when its own path or any path above it matches.
bool skipped(const std::string& path, const std::vector<std::regex>& patterns) {
  for (size_t end = path.find('.'); ; end = path.find('.', end + 1)) {
    const std::string prefix = path.substr(0, end);
    for (const std::regex& pattern : patterns) {
      if (std::regex_search(prefix, pattern)) return true;
    }
    if (end == std::string::npos) return false;
  }
}

std::shared_ptr<LayerwiseCastingHook> hook_of(Module& module) {
  return fp8_hook_of<LayerwiseCastingHook>(module, kHookName);
}

}  // namespace

const std::vector<std::string>& default_layerwise_casting_skip_patterns() {
  static const std::vector<std::string> patterns{"pos_embed", "patch_embed", "norm", "^proj_in$", "^proj_out$"};
  return patterns;
}

std::vector<Fp8Layer> fp8_layers(Module& model, const std::vector<std::string>& skip_patterns) {
  std::vector<std::regex> patterns;
  for (const std::string& pattern : skip_patterns) patterns.emplace_back(pattern);
  std::vector<Fp8Layer> layers;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    const std::string& path = item.key();
    if (!casts_in_diffusers(*item.value()) || skipped(path, patterns)) continue;
    auto* linear = dynamic_cast<Linear*>(item.value().get());
    TESSERA_CHECK(linear != nullptr, "FP8 weights: layer '", path, "' is a ", item.value()->name(),
                  ", which diffusers would cast and tessera cannot (it stores linear layers only in FP8); skip it by "
                  "a pattern or keep --weights full");
    layers.push_back({.path = path, .linear = linear});
  }
  return layers;
}

c10::ScalarType fp8_compute_dtype(const std::string& path, c10::ScalarType dtype) {
  TESSERA_CHECK(dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf, "FP8 weights: layer '",
                path, "' holds ", c10::toString(dtype), " weights, and FP8 storage computes in the dtype the "
                "model was loaded in, which must be fp32, bf16 or fp16: load with --dtype fp32, bf16 or fp16, or "
                "keep --weights full");
  return dtype;
}

std::vector<std::string> fp8_skip_patterns(const std::string& class_name, const std::string& flag) {
  const auto found = class_patterns().find(class_name);
  TESSERA_CHECK(found != class_patterns().end(), "FP8 weights (--weights ", flag, "): tessera knows which layers "
                "of a ", class_name, " diffusers casts only for WanTransformer3DModel and FluxTransformer2DModel; "
                "use --weights full");
  std::vector<std::string> patterns = default_layerwise_casting_skip_patterns();
  for (const auto* list : {&found->second.keep_in_fp32_modules, &found->second.skip_layerwise_casting_patterns}) {
    patterns.insert(patterns.end(), list->begin(), list->end());
  }
  return patterns;
}

int64_t apply_layerwise_casting(Module& model, c10::ScalarType storage_dtype,
                                const std::vector<std::string>& skip_patterns) {
  const std::vector<Fp8Layer> layers = fp8_layers(model, skip_patterns);
  for (const Fp8Layer& layer : layers) hook_layerwise_casting(layer, storage_dtype, layer.linear->weight().scalar_type());
  return static_cast<int64_t>(layers.size());
}

void hook_layerwise_casting(const Fp8Layer& layer, c10::ScalarType storage_dtype, c10::ScalarType compute_dtype) {
  TESSERA_CHECK(hook_of(*layer.linear) == nullptr, "layerwise casting: layer '", layer.path, "' is cast already");
  HookRegistry::get_or_create(*layer.linear)
      .register_hook(kHookName, std::make_shared<LayerwiseCastingHook>(
                                    storage_dtype, fp8_compute_dtype(layer.path, compute_dtype)));
}

int64_t enable_layerwise_casting(Module& model, const std::string& class_name, c10::ScalarType storage_dtype) {
  const int64_t layers = apply_layerwise_casting(model, storage_dtype, fp8_skip_patterns(class_name, "fp8"));
  TESSERA_CHECK(layers > 0, "FP8 weights (--weights fp8): the ", class_name, " has no linear layer to store in ",
                c10::toString(storage_dtype), " (every one is skipped by its patterns); use --weights full");
  return layers;
}

int64_t store_layerwise_cast_weights(Module& model) {
  return for_each_fp8_hook<LayerwiseCastingHook>(
      model, kHookName, [](const LayerwiseCastingHook& hook, Module& layer) { hook.store(layer); });
}

int64_t parameter_bytes(Module& model) {
  int64_t bytes = 0;
  for (const at::Tensor& parameter : model.parameters(/*recurse=*/true)) {
    if (parameter.defined()) bytes += parameter.numel() * static_cast<int64_t>(parameter.element_size());
  }
  return bytes;
}

}  // namespace tessera
