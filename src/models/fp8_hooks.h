#pragma once
// Finding the hook an FP8 storage (--weights fp8, fp8-scaled) put on a layer, and visiting every such layer of a
// model: both storages store again after a reload, and count what they hold, the same way.
#include <cstdint>
#include <memory>
#include <string>

#include "hooks/hook_registry.h"
#include "hooks/module.h"

namespace tessera {

// The hook of type Hook named `name` on `module`; null when it has none.
template <typename Hook>
std::shared_ptr<Hook> fp8_hook_of(Module& module, const std::string& name) {
  HookRegistry* registry = module.hook_registry();
  return registry == nullptr ? nullptr : registry->get_hook_as<Hook>(name);
}

// Calls visit(hook, module) for every module below `model` (itself included) that has the hook; returns how many.
template <typename Hook, typename Visit>
int64_t for_each_fp8_hook(Module& model, const std::string& name, Visit&& visit) {
  int64_t layers = 0;
  for (const NamedModule& named : model.all_modules()) {
    if (const auto hook = fp8_hook_of<Hook>(*named.module, name)) {
      visit(*hook, *named.module);
      ++layers;
    }
  }
  return layers;
}

}  // namespace tessera
