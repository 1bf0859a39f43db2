#include "src/models/lora/lora_hooks.h"

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <utility>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "hooks/module.h"

namespace tessera::lora {
namespace {

constexpr const char* kLoraHook = "lora";

class LoraHook : public ModelHook {
 public:
  LoraHook(at::Tensor down, at::Tensor up) : down_(std::move(down)), up_(std::move(up)) {}

  bool overrides_forward() const override { return true; }

  Outputs new_forward(Module& module, Args& args) override {
    const at::Tensor x = args.tensor("hidden_states");
    Outputs outputs = module.original_forward(args);
    // The up projection accumulates straight into the layer's output (no output-sized temporary).
    at::Tensor& output = outputs.at(0);
    const at::Tensor low = at::linear(x, down_);
    output.view({-1, output.size(-1)}).addmm_(low.reshape({-1, low.size(-1)}), up_.t());
    return outputs;
  }

 private:
  at::Tensor down_, up_;  // [sum of ranks, in], [out, sum of ranks]
};

// One layer's pieces before they are stacked: down [r, in] and scaled up rows [rows, r], in fp32.
struct Pieces {
  std::vector<at::Tensor> down, up;
};

}  // namespace

void hook_loras(Module& model, const std::vector<ScaledLora>& loras, const std::string& model_name) {
  if (loras.empty()) return;
  const std::vector<CheckedLayer> checked = check_loras(model, loras, model_name);
  std::map<std::string, Pieces> layers;
  for (const auto& entry : checked) {
    const at::Tensor down = entry.layer->down.to(at::kFloat);
    const at::Tensor up = entry.layer->up.to(at::kFloat).mul(entry.scale * entry.layer->factor);
    for (const auto& target : entry.targets) {
      Pieces& pieces = layers[target.module];
      pieces.down.push_back(down);
      pieces.up.push_back(up.slice(0, target.row, target.row + target.rows));
    }
  }
  // Every target is found before any hook is registered, so a refusal leaves the model as it was.
  std::vector<std::pair<Module*, std::shared_ptr<LoraHook>>> hooks;
  for (const auto& [path, pieces] : layers) {
    Module& layer = model.at(path);
    TESSERA_CHECK(layer.hook_registry() == nullptr || layer.hook_registry()->get_hook(kLoraHook) == nullptr,
                  path, " of the ", model_name, " has LoRA hooks already; remove them (unhook_loras) first");
    const at::Tensor& weight = layer.named_parameters(/*recurse=*/false)["weight"];
    const auto options = at::TensorOptions().dtype(weight.scalar_type()).device(weight.device());
    hooks.emplace_back(&layer, std::make_shared<LoraHook>(at::cat(pieces.down, 0).to(options),
                                                          at::cat(pieces.up, 1).to(options)));
  }
  for (auto& [layer, hook] : hooks) HookRegistry::get_or_create(*layer).register_hook(kLoraHook, std::move(hook));
}

size_t unhook_loras(Module& model) {
  size_t removed = 0;
  for (const auto& [path, module] : model.all_modules()) {
    if (HookRegistry* registry = module->hook_registry()) removed += registry->remove_hook(kLoraHook) ? 1 : 0;
  }
  return removed;
}

}  // namespace tessera::lora
