#include "src/models/lora/lora_fuse.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

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

void fuse_loras(torch::nn::Module& model, const std::vector<ScaledLora>& loras, const std::string& model_name) {
  if (loras.empty()) return;
  auto parameters = model.named_parameters(/*recurse=*/true);
  // Every file checked against the model before any weight changes.
  std::vector<std::string> problems;
  for (const auto& lora : loras) {
    std::vector<std::string> unmatched, misshapen;
    for (const auto& layer : lora.file.layers) {
      const at::Tensor* weight = parameters.find(layer.module + ".weight");
      if (weight == nullptr || weight->dim() != 2) {
        unmatched.push_back(detail::concat(layer.module, " (", layer.source, ")"));
        continue;
      }
      if (layer.up.size(0) != weight->size(0) || layer.down.size(1) != weight->size(1)) {
        misshapen.push_back(detail::concat(layer.module, ": lora_B ", shape_text(layer.up.sizes()), " @ lora_A ",
                                           shape_text(layer.down.sizes()), " is [", layer.up.size(0), ", ",
                                           layer.down.size(1), "] but the weight is ", shape_text(weight->sizes())));
      }
    }
    const size_t total = lora.file.layers.size();
    if (!unmatched.empty()) {
      const bool none = unmatched.size() == total;
      problems.push_back(detail::concat(lora.file.path, ": ", none ? std::string("none") : std::to_string(unmatched.size()),
                                        " of its ", total, " module(s) match ", none ? "a" : "no", " linear layer of the ",
                                        model_name, ": ", join_first(unmatched, kListed)));
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
      const std::string name = layer.module + ".weight";
      const at::Tensor delta = lora_delta(layer, lora.scale, parameters[name].device());
      auto [slot, fresh] = updates.try_emplace(name, delta);
      if (!fresh) slot->second.add_(delta);
    }
  }
  at::NoGradGuard no_grad;
  for (const auto& [name, update] : updates) {
    at::Tensor& weight = parameters[name];
    weight.copy_(update.add_(weight.to(at::kFloat)));
  }
}

}  // namespace tessera::lora
