#pragma once
// A hook intercepts one module's forward. Every method defaults to "pass through", so a hook overrides
// only what it changes. The order in which a registry runs its hooks is described in hook_registry.h.
#include "hooks/module.h"

namespace tessera {

class ModelHook {
 public:
  virtual ~ModelHook() = default;

  // Called once, when the hook is registered on `module`.
  virtual void initialize_hook(Module& /*module*/) {}

  // Before the forward; may rewrite, add or remove arguments.
  virtual void pre_forward(Module& /*module*/, Args& /*args*/) {}

  // After the forward; may rewrite the outputs.
  virtual void post_forward(Module& /*module*/, Outputs& /*outputs*/) {}

  // A hook that replaces the forward (a cache that skips the block, say) returns true here and overrides
  // new_forward. C++ cannot tell whether a virtual was overridden, so the hook says so; a registry accepts
  // at most one such hook per module.
  virtual bool overrides_forward() const { return false; }

  // Replaces the module's forward; may call module.original_forward(args), or not call it at all.
  virtual Outputs new_forward(Module& module, Args& args) { return module.original_forward(args); }

  // Forgets whatever the hook accumulated (cached residuals, step counters), keeping its configuration.
  virtual void reset_state(Module& /*module*/) {}
};

}  // namespace tessera
