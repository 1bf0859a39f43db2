// StateManager keeps one state per context (a CFG branch) and shares it between the hooks that hold it.
#include <gtest/gtest.h>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/state_manager.h"
#include "tests/unit/hook_test_modules.h"

namespace tessera {
namespace {

using testing::DoublingModule;

struct StepState {
  int steps = 0;
  double last_sum = 0.0;
};

TEST(StateManager, GetStateWithoutContextThrowsAndSaysWhatToDo) {
  StateManager<StepState> states;
  try {
    states.get_state();
    FAIL() << "get_state without a context did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("set_context"), std::string::npos) << error.what();
  }
}

TEST(StateManager, EachContextHasItsOwnState) {
  StateManager<StepState> states;
  states.set_context("cond");
  states.get_state().steps = 1;
  states.set_context("uncond");
  EXPECT_EQ(states.get_state().steps, 0);  // fresh, not the conditional branch's
  states.get_state().steps = 5;
  states.set_context("cond");
  EXPECT_EQ(states.get_state().steps, 1);
  EXPECT_EQ(states.contexts(), (std::vector<std::string>{"cond", "uncond"}));
}

TEST(StateManager, FactoryBuildsEachFreshState) {
  StateManager<StepState> states([] { return StepState{100, 0.0}; });
  states.set_context("a");
  EXPECT_EQ(states.get_state().steps, 100);
}

TEST(StateManager, ResetDropsEveryStateAndTheContext) {
  StateManager<StepState> states;
  states.set_context("cond");
  states.get_state().steps = 3;
  states.reset();
  EXPECT_FALSE(states.has_context());
  EXPECT_FALSE(states.has_state("cond"));
  EXPECT_THROW(states.get_state(), Error);
  states.set_context("cond");
  EXPECT_EQ(states.get_state().steps, 0);
}

// Counts steps and remembers the last input sum in the shared state of the current context.
class StepCountingHook : public ModelHook {
 public:
  explicit StepCountingHook(std::shared_ptr<StateManager<StepState>> states) : states_(std::move(states)) {}
  void pre_forward(Module&, Args& args) override {
    StepState& state = states_->get_state();
    ++state.steps;
    state.last_sum = args.tensor("x").sum().item<double>();
  }
  void reset_state(Module&) override { states_->reset(); }

 private:
  std::shared_ptr<StateManager<StepState>> states_;
};

TEST(StateManager, HooksOnTwoModulesShareOneStatePerContext) {
  auto states = std::make_shared<StateManager<StepState>>();
  DoublingModule first, second;
  HookRegistry::get_or_create(first).register_hook("steps", std::make_shared<StepCountingHook>(states));
  HookRegistry::get_or_create(second).register_hook("steps", std::make_shared<StepCountingHook>(states));

  states->set_context("cond");
  first({{"x", at::ones({2})}});
  second({{"x", at::ones({2})}});
  states->set_context("uncond");
  first({{"x", at::zeros({2})}});

  states->set_context("cond");
  EXPECT_EQ(states->get_state().steps, 2);
  EXPECT_DOUBLE_EQ(states->get_state().last_sum, 2.0);
  states->set_context("uncond");
  EXPECT_EQ(states->get_state().steps, 1);
  EXPECT_DOUBLE_EQ(states->get_state().last_sum, 0.0);

  first.hook_registry()->reset_hook("steps");
  EXPECT_TRUE(states->contexts().empty());
}

}  // namespace
}  // namespace tessera
