#pragma once
// The hookable module: a torch::nn::Module with one uniform call, so hooks and context-parallel plans can
// intercept any module the same way, and with submodules addressable by dotted path ("blocks.3.attn1").
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hooks/args.h"

namespace tessera {

class HookRegistry;
class Module;

// What a cache needs to know of a module without knowing its class: FasterCache hooks self-attention
// (diffusers asks isinstance(..., Attention) and not is_cross_attention).
enum class ModuleRole { other, self_attention, cross_attention };

struct NamedModule {
  std::string path;  // dotted, relative to the module searched from
  Module* module;
};

class Module : public torch::nn::Module {
 public:
  Module();
  ~Module() override;  // out of line: HookRegistry is incomplete here

  // Runs the module: straight to forward_impl when no hook was ever registered (one null check), else
  // through the registry's dispatch.
  Outputs operator()(Args args) {
    if (hook_registry_ == nullptr) [[likely]] return forward_impl(args);
    return forward_through_hooks(args);
  }

  // The module's own forward, bypassing its hooks: what a hook that replaces the forward calls when it
  // still wants the original computation.
  Outputs original_forward(Args& args) { return forward_impl(args); }

  virtual ModuleRole role() const { return ModuleRole::other; }

  // Null until a hook registry is created for this module (HookRegistry::get_or_create).
  HookRegistry* hook_registry() const { return hook_registry_.get(); }

  // The tessera::Module at a dotted path below this one ("" is this module), or null when the path names
  // nothing or names a plain torch module (a ModuleList in the middle of a path is fine).
  Module* find(std::string_view path);
  // Like find, but throws naming the path and the children that do exist at the point where it failed.
  Module& at(std::string_view path);
  // Every tessera::Module whose dotted path matches `pattern`, where a "*" segment matches any one
  // segment ("blocks.*.attn1"), in registration order.
  std::vector<NamedModule> find_all(std::string_view pattern);
  // This module ("") and every tessera::Module below it, in registration order.
  std::vector<NamedModule> all_modules();

 protected:
  virtual Outputs forward_impl(Args& args) = 0;

 private:
  friend class HookRegistry;
  Outputs forward_through_hooks(Args& args);

  std::unique_ptr<HookRegistry> hook_registry_;
};

// True when the dotted `path` matches `pattern` segment by segment, "*" matching any one segment.
bool path_matches(std::string_view pattern, std::string_view path);

}  // namespace tessera
