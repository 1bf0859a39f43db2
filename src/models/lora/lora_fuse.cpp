#include "src/models/lora/lora_fuse.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <map>

#include "common/check.h"
#include "hooks/module.h"
#include "parallel/weight_gather_hooks.h"

namespace tessera::lora {

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
  auto* hookable = dynamic_cast<Module*>(&model);
  TESSERA_CHECK(hookable == nullptr || sharded_weights_of(*hookable) == nullptr, "the ", model_name, "'s weights are "
                "sharded across ranks (--shard-weights), so no rank holds a whole weight to fuse a LoRA into; apply "
                "LoRAs as hooks (--lora-mode hooks)");
  const std::vector<CheckedLayer> checked = check_loras(model, loras, model_name);
  auto parameters = model.named_parameters(/*recurse=*/true);
  // Several LoRAs on one weight: their updates summed in fp32, the weight rounded to its dtype once.
  std::map<std::string, at::Tensor> updates;
  for (const auto& entry : checked) {
    const std::string first = entry.targets.front().module + ".weight";
    const at::Tensor delta = lora_delta(*entry.layer, entry.scale, parameters[first].device());
    for (const auto& target : entry.targets) {
      const at::Tensor part = delta.slice(0, target.row, target.row + target.rows);
      auto [slot, fresh] = updates.try_emplace(target.module + ".weight", part.clone());
      if (!fresh) slot->second.add_(part);
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
