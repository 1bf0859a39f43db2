#include "parallel/weight_gather_hooks.h"

#include <utility>

#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "hooks/module.h"
#include "parallel/sharded_weights.h"

namespace tessera {
namespace {

class WeightGatherHook final : public ModelHook {
 public:
  WeightGatherHook(std::shared_ptr<ShardedWeights> weights, size_t unit) : weights_(std::move(weights)), unit_(unit) {}
  void pre_forward(Module& /*module*/, Args& /*args*/) override { weights_->before(unit_); }
  void post_forward(Module& /*module*/, Outputs& /*outputs*/) override { weights_->after(unit_); }
  const std::shared_ptr<ShardedWeights>& weights() const { return weights_; }

 private:
  std::shared_ptr<ShardedWeights> weights_;
  size_t unit_;
};

}  // namespace

void enable_weight_gathers(Module& model, std::shared_ptr<ShardedWeights> weights) {
  for (size_t unit = 0; unit < weights->units(); ++unit) {
    Module& module = model.at(weights->unit_name(unit));
    HookRegistry::get_or_create(module).register_hook(kWeightGatherHookName,
                                                      std::make_shared<WeightGatherHook>(weights, unit));
  }
}

std::shared_ptr<ShardedWeights> sharded_weights_of(Module& model) {
  HookRegistry* registry = model.hook_registry();
  if (registry == nullptr) return nullptr;
  const auto hook = registry->get_hook_as<WeightGatherHook>(kWeightGatherHookName);
  return hook ? hook->weights() : nullptr;
}

}  // namespace tessera
