#include "hooks/hook_registry.h"

#include "common/check.h"

namespace tessera {
namespace {

// Keeps dispatch_depth_ right when a hook or the forward throws.
class DepthGuard {
 public:
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

}  // namespace

HookRegistry& HookRegistry::get_or_create(Module& module) {
  if (module.hook_registry_ == nullptr) module.hook_registry_.reset(new HookRegistry(module));
  return *module.hook_registry_;
}

void HookRegistry::register_hook(const std::string& name, std::shared_ptr<ModelHook> hook) {
  check_not_dispatching("register a hook");
  TESSERA_CHECK(hook != nullptr, "cannot register a null hook as '", name, "' on ", module_.name());
  TESSERA_CHECK(hooks_.count(name) == 0, "a hook named '", name, "' is already registered on ", module_.name(),
                "; remove it first or choose another name");
  TESSERA_CHECK(!(hook->overrides_forward() && forward_hook_ != nullptr), "cannot register hook '", name, "' on ",
                module_.name(), ": hook '", forward_hook_name_ == nullptr ? "" : *forward_hook_name_,
                "' already overrides its new_forward, and only one hook per module may");
  hook->initialize_hook(module_);
  hooks_.emplace(name, std::move(hook));
  update_sorted_hooks();
}

bool HookRegistry::remove_hook(const std::string& name) {
  check_not_dispatching("remove a hook");
  if (hooks_.erase(name) == 0) return false;
  update_sorted_hooks();
  return true;
}

std::shared_ptr<ModelHook> HookRegistry::get_hook(const std::string& name) const {
  const auto it = hooks_.find(name);
  return it == hooks_.end() ? nullptr : it->second;
}

void HookRegistry::reset_hook(const std::string& name) {
  const auto it = hooks_.find(name);
  TESSERA_CHECK(it != hooks_.end(), "no hook named '", name, "' on ", module_.name(), " to reset");
  it->second->reset_state(module_);
}

void HookRegistry::reset() {
  check_not_dispatching("reset the hooks");
  for (const auto& entry : sorted_) entry.hook->reset_state(module_);
  hooks_.clear();
  update_sorted_hooks();
}

std::vector<std::string> HookRegistry::hook_names() const {
  std::vector<std::string> names;
  names.reserve(sorted_.size());
  for (const auto& entry : sorted_) names.push_back(*entry.name);
  return names;
}

Outputs HookRegistry::dispatch(Args& args) {
  // Reentrant on purpose: a hook may run the module again (a second guidance branch, say).
  DepthGuard guard(dispatch_depth_);
  for (const auto& entry : sorted_) entry.hook->pre_forward(module_, args);
  Outputs outputs = forward_hook_ != nullptr ? forward_hook_->new_forward(module_, args)
                                             : module_.original_forward(args);
  for (auto it = sorted_.rbegin(); it != sorted_.rend(); ++it) it->hook->post_forward(module_, outputs);
  return outputs;
}

void HookRegistry::update_sorted_hooks() {
  sorted_.clear();
  forward_hook_name_ = nullptr;
  forward_hook_ = nullptr;
  // std::map iterates in name order; the forward-overriding hook is held back and appended last.
  for (const auto& [name, hook] : hooks_) {
    if (hook->overrides_forward()) {
      TESSERA_INTERNAL_ASSERT(forward_hook_ == nullptr, "two hooks override the forward of ", module_.name());
      forward_hook_name_ = &name;
      forward_hook_ = hook.get();
    } else {
      sorted_.push_back({&name, hook.get()});
    }
  }
  if (forward_hook_ != nullptr) sorted_.push_back({forward_hook_name_, forward_hook_});
}

void HookRegistry::check_not_dispatching(const char* action) const {
  // The dispatch loop walks sorted_; changing it underneath would skip or repeat hooks.
  TESSERA_CHECK(dispatch_depth_ == 0, "cannot ", action, " on ", module_.name(),
                " while its forward is running through the hooks; do it between calls");
}

}  // namespace tessera
