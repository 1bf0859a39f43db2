#pragma once
// Per-context state for hooks. A hook that remembers things across calls (a cache's previous residual)
// must remember them separately for each branch that runs the same module: classifier-free guidance runs
// every block once for the conditional and once for the unconditional batch, and mixing their states would
// be wrong. The caller names the branch with set_context; the hooks ask for the state of the current one.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/check.h"

namespace tessera {

template <typename State>
class StateManager {
 public:
  using Factory = std::function<State()>;

  StateManager() : make_state_([] { return State{}; }) {}
  // `make_state` builds the fresh state of a context (for states that need constructor arguments).
  explicit StateManager(Factory make_state) : make_state_(std::move(make_state)) {}

  void set_context(std::string name) { context_ = std::move(name); }
  const std::string& context() const { return context_; }
  bool has_context() const { return !context_.empty(); }

  // The current context's state, created fresh on first use. Requires a context, so that a forgotten
  // set_context fails loudly instead of silently sharing one state between branches.
  State& get_state() {
    TESSERA_CHECK(has_context(), "no state context is set; call set_context(name) (for example \"cond\" or "
                                 "\"uncond\") before running a module whose hooks keep state");
    auto it = states_.find(context_);
    if (it == states_.end()) it = states_.emplace(context_, make_state_()).first;
    return it->second;
  }

  bool has_state(const std::string& context) const { return states_.count(context) != 0; }
  std::vector<std::string> contexts() const {
    std::vector<std::string> names;
    for (const auto& entry : states_) names.push_back(entry.first);
    return names;
  }

  // Drops the state of every context and the current context name (the start of a new generation).
  void reset() {
    states_.clear();
    context_.clear();
  }

 private:
  Factory make_state_;
  std::string context_;
  std::map<std::string, State> states_;
};

}  // namespace tessera
