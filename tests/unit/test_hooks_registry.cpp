// HookRegistry's life cycle: creation on demand, lookup, removal, reset, and guarding its own dispatch.
#include <gtest/gtest.h>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "tests/unit/hook_test_modules.h"

namespace tessera {
namespace {

using testing::CallLog;
using testing::CountingHook;
using testing::DoublingModule;
using testing::LoggingHook;
using testing::ReplacingHook;
using testing::sum_of;

Args ones() { return {{"x", at::ones({3})}}; }

TEST(HookRegistry, ModuleHasNoRegistryUntilOneIsCreated) {
  DoublingModule module;
  EXPECT_EQ(module.hook_registry(), nullptr);
  EXPECT_DOUBLE_EQ(sum_of(module(ones()).at(0)), 6.0);
  EXPECT_EQ(module.hook_registry(), nullptr);  // calling does not create one

  HookRegistry& registry = HookRegistry::get_or_create(module);
  EXPECT_EQ(module.hook_registry(), &registry);
  EXPECT_EQ(&HookRegistry::get_or_create(module), &registry);
  EXPECT_EQ(&HookRegistry::check_if_exists_or_initialize(module), &registry);
  EXPECT_TRUE(registry.empty());
}

TEST(HookRegistry, InitializeHookRunsOnceAtRegistration) {
  DoublingModule module;
  auto hook = std::make_shared<CountingHook>();
  HookRegistry::get_or_create(module).register_hook("count", hook);
  EXPECT_EQ(hook->initialized, 1);
  module(ones());
  module(ones());
  EXPECT_EQ(hook->initialized, 1);
  EXPECT_EQ(hook->calls, 2);
}

TEST(HookRegistry, GetHookReturnsTheRegisteredHookOrNull) {
  DoublingModule module;
  auto& registry = HookRegistry::get_or_create(module);
  auto hook = std::make_shared<CountingHook>();
  registry.register_hook("count", hook);
  EXPECT_EQ(registry.get_hook("count"), hook);
  EXPECT_EQ(registry.get_hook_as<CountingHook>("count"), hook);
  EXPECT_EQ(registry.get_hook_as<LoggingHook>("count"), nullptr);
  EXPECT_EQ(registry.get_hook("missing"), nullptr);
}

TEST(HookRegistry, RemoveHookStopsItAndReportsUnknownNames) {
  DoublingModule module;
  auto& registry = HookRegistry::get_or_create(module);
  auto hook = std::make_shared<CountingHook>();
  registry.register_hook("count", hook);
  module(ones());
  EXPECT_TRUE(registry.remove_hook("count"));
  EXPECT_FALSE(registry.remove_hook("count"));
  module(ones());
  EXPECT_EQ(hook->calls, 1);
  EXPECT_TRUE(registry.empty());
}

TEST(HookRegistry, ResetRemovesEveryHookResetsItsStateAndRestoresTheOriginalForward) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  auto counter = std::make_shared<CountingHook>();
  registry.register_hook("count", counter);
  registry.register_hook("replace", std::make_shared<ReplacingHook>("replace", &log, /*call_original=*/false));
  EXPECT_DOUBLE_EQ(sum_of(module(ones()).at(0)), -1.0);  // replaced

  registry.reset();
  EXPECT_TRUE(registry.empty());
  EXPECT_EQ(counter->resets, 1);
  log.clear();
  const Outputs outputs = module(ones());
  EXPECT_EQ(log, (CallLog{"forward"}));
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_DOUBLE_EQ(sum_of(outputs[0]), 6.0);
  EXPECT_EQ(counter->calls, 0);
  // A new forward-overriding hook is accepted again after reset.
  EXPECT_NO_THROW(registry.register_hook("replace", std::make_shared<ReplacingHook>("replace", &log, false)));
}

TEST(HookRegistry, ResetHookClearsOnlyThatHooksState) {
  DoublingModule module;
  auto& registry = HookRegistry::get_or_create(module);
  auto first = std::make_shared<CountingHook>();
  auto second = std::make_shared<CountingHook>();
  registry.register_hook("first", first);
  registry.register_hook("second", second);
  for (int i = 0; i < 3; ++i) module(ones());

  registry.reset_hook("first");
  EXPECT_EQ(first->calls, 0);
  EXPECT_EQ(first->resets, 1);
  EXPECT_EQ(second->calls, 3);
  EXPECT_EQ(second->resets, 0);
  EXPECT_EQ(registry.size(), 2u);  // reset_hook keeps the hook registered
  module(ones());
  EXPECT_EQ(first->calls, 1);
}

TEST(HookRegistry, ResetHookOfUnknownNameThrows) {
  DoublingModule module;
  auto& registry = HookRegistry::get_or_create(module);
  EXPECT_THROW(registry.reset_hook("missing"), Error);
}

TEST(HookRegistry, NullHookIsRefused) {
  DoublingModule module;
  EXPECT_THROW(HookRegistry::get_or_create(module).register_hook("null", nullptr), Error);
}

// Tries to remove itself while the module's forward runs through the hooks.
class SelfRemovingHook : public ModelHook {
 public:
  void pre_forward(Module& module, Args&) override { module.hook_registry()->remove_hook("self"); }
};

TEST(HookRegistry, ChangingHooksDuringDispatchIsRefusedAndLeavesTheRegistryUsable) {
  DoublingModule module;
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("self", std::make_shared<SelfRemovingHook>());
  try {
    module(ones());
    FAIL() << "removing a hook during dispatch was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("while its forward is running"), std::string::npos) << error.what();
  }
  EXPECT_EQ(registry.size(), 1u);
  // The failed dispatch did not leave the registry locked.
  EXPECT_TRUE(registry.remove_hook("self"));
  EXPECT_DOUBLE_EQ(sum_of(module(ones()).at(0)), 6.0);
}

// Runs the original forward twice (as a guidance hook running two branches would) and sums the results.
class TwiceHook : public ModelHook {
 public:
  bool overrides_forward() const override { return true; }
  Outputs new_forward(Module& module, Args& args) override {
    Args copy = args;
    return {module.original_forward(args).at(0) + module.original_forward(copy).at(0)};
  }
};

TEST(HookRegistry, NewForwardMayRunTheOriginalForwardMoreThanOnce) {
  DoublingModule module;
  HookRegistry::get_or_create(module).register_hook("twice", std::make_shared<TwiceHook>());
  EXPECT_DOUBLE_EQ(sum_of(module(ones()).at(0)), 12.0);
  EXPECT_EQ(module.forward_calls, 2);
}

}  // namespace
}  // namespace tessera
