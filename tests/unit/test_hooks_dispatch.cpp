// The dispatch order of the reference hook contract, one test per rule.
#include <gtest/gtest.h>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "tests/unit/hook_test_modules.h"

namespace tessera {
namespace {

using testing::CallLog;
using testing::DoublingModule;
using testing::LoggingHook;
using testing::ReplacingHook;
using testing::sum_of;

Args x_of(double value) { return {{"x", at::full({2}, value)}}; }

TEST(HookDispatch, PreForwardInNameOrderAndPostForwardInReverse) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  // Registered out of order on purpose: the order comes from the names, not from registration.
  registry.register_hook("b", std::make_shared<LoggingHook>("b", &log));
  registry.register_hook("c", std::make_shared<LoggingHook>("c", &log));
  registry.register_hook("a", std::make_shared<LoggingHook>("a", &log));
  module(x_of(1));
  EXPECT_EQ(log, (CallLog{"pre:a", "pre:b", "pre:c", "forward", "post:c", "post:b", "post:a"}));
}

TEST(HookDispatch, ForwardOverridingHookRunsLastWhateverItsName) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("m", std::make_shared<LoggingHook>("m", &log));
  registry.register_hook("a_replace", std::make_shared<ReplacingHook>("a_replace", &log, /*call_original=*/true));
  registry.register_hook("z", std::make_shared<LoggingHook>("z", &log));
  EXPECT_EQ(registry.hook_names(), (std::vector<std::string>{"m", "z", "a_replace"}));
  const Outputs outputs = module(x_of(1));
  EXPECT_EQ(log, (CallLog{"pre:m", "pre:z", "pre:a_replace", "new_forward:a_replace", "forward", "post:a_replace",
                          "post:z", "post:m"}));
  ASSERT_EQ(outputs.size(), 2u);  // the replacing hook's marker output proves its new_forward produced them
  EXPECT_DOUBLE_EQ(sum_of(outputs[0]), 4.0);
}

TEST(HookDispatch, NewForwardMaySkipTheOriginalForward) {
  CallLog log;
  DoublingModule module(&log);
  HookRegistry::get_or_create(module).register_hook(
      "skip", std::make_shared<ReplacingHook>("skip", &log, /*call_original=*/false));
  const Outputs outputs = module(x_of(1));
  EXPECT_EQ(module.forward_calls, 0);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_DOUBLE_EQ(sum_of(outputs[0]), -1.0);
}

TEST(HookDispatch, WithoutOverridingHookTheOriginalForwardRuns) {
  CallLog log;
  DoublingModule module(&log);
  HookRegistry::get_or_create(module).register_hook("a", std::make_shared<LoggingHook>("a", &log));
  const Outputs outputs = module(x_of(3));
  EXPECT_EQ(module.forward_calls, 1);
  EXPECT_DOUBLE_EQ(sum_of(outputs.at(0)), 12.0);
}

// Adds 1 to "x" and sets "offset": both a rewrite and a new argument.
class ArgumentRewritingHook : public ModelHook {
 public:
  void pre_forward(Module&, Args& args) override {
    args.set("x", args.tensor("x") + 1);
    args.set("offset", 10.0);
  }
};

TEST(HookDispatch, PreForwardRewritesArguments) {
  DoublingModule module;
  HookRegistry::get_or_create(module).register_hook("rewrite", std::make_shared<ArgumentRewritingHook>());
  const Outputs outputs = module(x_of(1));  // (1 + 1) * 2 + 10 per element, two elements
  EXPECT_DOUBLE_EQ(sum_of(outputs.at(0)), 28.0);
}

// Applies `scale` then `shift` to output 0 and logs which ran.
class OutputRewritingHook : public ModelHook {
 public:
  OutputRewritingHook(double scale, double shift) : scale_(scale), shift_(shift) {}
  void post_forward(Module&, Outputs& outputs) override { outputs.at(0) = outputs.at(0) * scale_ + shift_; }

 private:
  double scale_, shift_;
};

TEST(HookDispatch, PostForwardRewritesOutputsInReverseNameOrder) {
  DoublingModule module;
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("a_add_one", std::make_shared<OutputRewritingHook>(1.0, 1.0));
  registry.register_hook("b_times_ten", std::make_shared<OutputRewritingHook>(10.0, 0.0));
  const Outputs outputs = module({{"x", at::full({1}, 1.0)}});
  // forward gives 2; reverse order applies b first (x10 = 20), then a (+1 = 21). The other order gives 30.
  EXPECT_DOUBLE_EQ(sum_of(outputs.at(0)), 21.0);
}

TEST(HookDispatch, SecondForwardOverridingHookIsRefusedWithClearError) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("first", std::make_shared<ReplacingHook>("first", &log, false));
  try {
    registry.register_hook("second", std::make_shared<ReplacingHook>("second", &log, false));
    FAIL() << "a second new_forward hook was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'second'"), std::string::npos) << message;
    EXPECT_NE(message.find("'first'"), std::string::npos) << message;
    EXPECT_NE(message.find("new_forward"), std::string::npos) << message;
  }
  EXPECT_EQ(registry.hook_names(), (std::vector<std::string>{"first"}));
  EXPECT_EQ(registry.get_hook("second"), nullptr);
}

TEST(HookDispatch, AnotherForwardOverridingHookIsAcceptedOnceTheFirstIsRemoved) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("first", std::make_shared<ReplacingHook>("first", &log, false));
  EXPECT_TRUE(registry.remove_hook("first"));
  registry.register_hook("second", std::make_shared<ReplacingHook>("second", &log, false));
  module(x_of(1));
  EXPECT_EQ(log, (CallLog{"pre:second", "new_forward:second", "post:second"}));
}

TEST(HookDispatch, OrderIsRecomputedAfterEveryAddAndRemove) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("a", std::make_shared<LoggingHook>("a", &log));
  registry.register_hook("c", std::make_shared<LoggingHook>("c", &log));
  registry.register_hook("b", std::make_shared<LoggingHook>("b", &log));
  EXPECT_EQ(registry.hook_names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(registry.remove_hook("a"));
  module(x_of(1));
  EXPECT_EQ(log, (CallLog{"pre:b", "pre:c", "forward", "post:c", "post:b"}));
}

TEST(HookDispatch, DuplicateNameIsRefused) {
  CallLog log;
  DoublingModule module(&log);
  auto& registry = HookRegistry::get_or_create(module);
  registry.register_hook("a", std::make_shared<LoggingHook>("a", &log));
  EXPECT_THROW(registry.register_hook("a", std::make_shared<LoggingHook>("again", &log)), Error);
  module(x_of(1));
  EXPECT_EQ(log.front(), "pre:a");
}

}  // namespace
}  // namespace tessera
