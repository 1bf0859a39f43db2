#include "src/models/lora/lora_fuse.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <map>

#include "common/check.h"
#include "common/join.h"

namespace tessera::lora {
namespace {

constexpr size_t kListed = 12;

std::string shape_text(c10::IntArrayRef sizes) { return detail::concat("[", join(sizes, ", "), "]"); }

}  // namespace

std::vector<ScaledLora> read_loras(const std::vector<LoraSpec>& specs) {
  std::vector<ScaledLora> loras;
  loras.reserve(specs.size());
  for (const auto& spec : specs) loras.push_back(ScaledLora{.file = read_lora_file(spec.path), .scale = spec.scale});
  return loras;
}

at::Tensor lora_delta(const LoraLayer& layer, double scale, c10::Device device) {
  const auto fp32 = at::TensorOptions().dtype(at::kFloat).device(device);
  return at::matmul(layer.up.to(fp32), layer.down.to(fp32)).mul_(scale * layer.factor);
}

void fuse_loras(torch::nn::Module& model, const std::vector<ScaledLora>& loras, const std::string& model_name,
                SavedWeights* saved) {
  if (loras.empty()) return;
  auto parameters = model.named_parameters(/*recurse=*/true);
  // Every file checked against the model before any weight changes.
  std::vector<std::string> problems;
  for (const auto& lora : loras) {
    std::vector<std::string> unmatched, misshapen;
    for (const auto& layer : lora.file.layers) {
      std::vector<const at::Tensor*> weights;
      for (const auto& target : layer.targets) weights.push_back(parameters.find(target + ".weight"));
      const auto missing = [](const at::Tensor* weight) { return weight == nullptr || weight->dim() != 2; };
      if (std::any_of(weights.begin(), weights.end(), missing)) {
        unmatched.push_back(detail::concat(layer.module, " (", layer.source, ")"));
        continue;
      }
      // A fused projection's targets stack their rows (lora_kohya_flux.h).
      int64_t rows = 0;
      bool columns_fit = true;
      std::vector<std::string> shapes;
      for (const at::Tensor* weight : weights) {
        rows += weight->size(0);
        columns_fit = columns_fit && weight->size(1) == layer.down.size(1);
        shapes.push_back(shape_text(weight->sizes()));
      }
      if (layer.up.size(0) != rows || !columns_fit) {
        misshapen.push_back(detail::concat(layer.module, ": lora_B ", shape_text(layer.up.sizes()), " @ lora_A ",
                                           shape_text(layer.down.sizes()), " is [", layer.up.size(0), ", ",
                                           layer.down.size(1), "] but the weight",
                                           weights.size() > 1 ? "s are " : " is ", join(shapes, " + ")));
      }
    }
    const size_t total = lora.file.layers.size();
    if (!unmatched.empty()) {
      const bool none = unmatched.size() == total;
      const std::string count = none ? std::string("none") : std::to_string(unmatched.size());
      problems.push_back(detail::concat(lora.file.path, ": ", count, " of its ", total, " module(s) match ",
                                        none ? "a" : "no", " linear layer of the ", model_name, ": ",
                                        join_first(unmatched, kListed)));
    }
    if (!misshapen.empty()) {
      problems.push_back(detail::concat(lora.file.path, ": ", misshapen.size(), " module(s) have the wrong shape: ",
                                        join_first(misshapen, kListed, "; ")));
    }
  }
  TESSERA_CHECK(problems.empty(), "the LoRA(s) do not fit this ", model_name, ", nothing was fused. ",
                join(problems, ". "), ". Is each LoRA made for this model (family and size)?");

  // Several LoRAs on one weight: their updates summed in fp32, the weight rounded to its dtype once.
  std::map<std::string, at::Tensor> updates;
  for (const auto& lora : loras) {
    for (const auto& layer : lora.file.layers) {
      const at::Tensor delta = lora_delta(layer, lora.scale, parameters[layer.targets.front() + ".weight"].device());
      int64_t row = 0;
      for (const auto& target : layer.targets) {
        const std::string name = target + ".weight";
        const int64_t rows = parameters[name].size(0);
        const at::Tensor part = delta.slice(0, row, row + rows);
        row += rows;
        auto [slot, fresh] = updates.try_emplace(name, part.clone());
        if (!fresh) slot->second.add_(part);
      }
    }
  }
  at::NoGradGuard no_grad;
  for (const auto& [name, update] : updates) {
    at::Tensor& weight = parameters[name];
    if (saved != nullptr && saved->count(name) == 0) saved->emplace(name, weight.to(at::kCPU, false, /*copy=*/true));
    weight.copy_(update.add_(weight.to(at::kFloat)));
  }
}

void restore_weights(torch::nn::Module& model, SavedWeights& saved) {
  if (saved.empty()) return;
  auto parameters = model.named_parameters(/*recurse=*/true);
  at::NoGradGuard no_grad;
  for (const auto& [name, original] : saved) {
    at::Tensor* weight = parameters.find(name);
    TESSERA_INTERNAL_ASSERT(weight != nullptr, "a saved weight ", name, " the model does not have");
    weight->copy_(original);
  }
  saved.clear();
}

}  // namespace tessera::lora
