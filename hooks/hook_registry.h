#pragma once
// The hooks attached to one module, and the order they run in (the contract of the reference hook design):
//   1. pre_forward of every hook, in order of hook name, except that the one hook that overrides the
//      forward (if any) comes last;
//   2. that hook's new_forward, or the module's original forward when no hook overrides it;
//   3. post_forward of every hook in the reverse of step 1's order.
// The order is recomputed whenever a hook is added or removed.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hooks/model_hook.h"
#include "hooks/module.h"

namespace tessera {

class HookRegistry {
 public:
  // The module's registry, created and attached to it on first use. The module owns it.
  static HookRegistry& get_or_create(Module& module);
  // The same as get_or_create, under the name diffusers uses.
  static HookRegistry& check_if_exists_or_initialize(Module& module) { return get_or_create(module); }

  HookRegistry(const HookRegistry&) = delete;
  HookRegistry& operator=(const HookRegistry&) = delete;

  // Adds `hook` under `name` and calls its initialize_hook. Refuses a name already taken, and a second
  // hook that overrides the forward.
  void register_hook(const std::string& name, std::shared_ptr<ModelHook> hook);
  // Returns false when no hook has that name.
  bool remove_hook(const std::string& name);
  // Null when no hook has that name.
  std::shared_ptr<ModelHook> get_hook(const std::string& name) const;
  template <typename Hook>
  std::shared_ptr<Hook> get_hook_as(const std::string& name) const {
    return std::dynamic_pointer_cast<Hook>(get_hook(name));
  }
  // Resets the state of that one hook; throws when no hook has that name.
  void reset_hook(const std::string& name);
  // Resets every hook's state and removes them all, so the module runs its original forward again.
  void reset();

  bool empty() const { return hooks_.empty(); }
  size_t size() const { return hooks_.size(); }
  // Hook names in pre_forward order.
  std::vector<std::string> hook_names() const;

  // Runs the module's forward through the hooks, in the order described at the top of this file.
  Outputs dispatch(Args& args);

 private:
  explicit HookRegistry(Module& module) : module_(module) {}
  void update_sorted_hooks();
  void check_not_dispatching(const char* action) const;

  struct Named {
    const std::string* name;
    ModelHook* hook;
  };

  Module& module_;
  std::map<std::string, std::shared_ptr<ModelHook>> hooks_;
  std::vector<Named> sorted_;  // pre_forward order; points into hooks_
  const std::string* forward_hook_name_ = nullptr;
  ModelHook* forward_hook_ = nullptr;
  int dispatch_depth_ = 0;  // > 0 while a forward runs through the hooks
};

}  // namespace tessera
