// tessera::Module: the Args convention, dotted-path and wildcard lookup, and hooks on wildcard paths.
#include <gtest/gtest.h>

#include "tests/unit/error_message.h"
#include "common/check.h"
#include "hooks/hook_registry.h"
#include "src/tiny/tiny_dit.h"
#include "tests/unit/hook_test_modules.h"

namespace tessera {
namespace {

using testing::CountingHook;

TinyDiTConfig tiny_config(int64_t num_layers, int64_t in_channels = 4, int64_t out_channels = 4) {
  TinyDiTConfig config;
  config.num_layers = num_layers;
  config.in_channels = in_channels;
  config.out_channels = out_channels;
  return config;
}

TEST(Args, KeepsInsertionOrderAndReplacesInPlace) {
  Args args{{"b", 1}, {"a", 2.5}};
  args.set("c", "text").set("b", true);
  EXPECT_EQ(args.names(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_TRUE(args.get<bool>("b"));
  EXPECT_DOUBLE_EQ(args.get<double>("a"), 2.5);
  EXPECT_EQ(args.get<std::string>("c"), "text");
  EXPECT_TRUE(args.erase("a"));
  EXPECT_FALSE(args.erase("a"));
  EXPECT_EQ(args.size(), 2u);
}

TEST(Args, IntegerLiteralsAreIntegersNotDoublesOrBools) {
  const Args args{{"steps", 50}, {"seed", int64_t{7}}};
  EXPECT_EQ(args.get<int64_t>("steps"), 50);
  EXPECT_EQ(args.get<int64_t>("seed"), 7);
}

TEST(Args, MissingArgumentErrorListsTheGivenNames) {
  const Args args{{"hidden_states", at::zeros({1})}, {"timestep", 3}};
  const std::string message = message_of([&] { args.tensor("encoder_hidden_states"); });
  EXPECT_NE(message.find("missing argument 'encoder_hidden_states'"), std::string::npos) << message;
  EXPECT_NE(message.find("hidden_states, timestep"), std::string::npos) << message;
}

TEST(Args, TypeMismatchNamesBothTypes) {
  const Args args{{"timestep", 3}};
  const std::string message = message_of([&] { args.tensor("timestep"); });
  EXPECT_NE(message.find("argument 'timestep' is int, expected tensor"), std::string::npos) << message;
}

TEST(Args, NoneAndMissingAreAbsentForGetIfButAnErrorForGet) {
  const Args args{{"mask", std::nullopt}};
  EXPECT_EQ(args.get_if<at::Tensor>("mask"), nullptr);
  EXPECT_EQ(args.get_if<at::Tensor>("missing"), nullptr);
  EXPECT_TRUE(args.contains("mask"));
  EXPECT_THROW(args.tensor("mask"), Error);
  const Args text{{"scale", "large"}};
  EXPECT_THROW(text.get_if<double>("scale"), Error);  // present but of another type is an error
}

TEST(Module, FindsSubmodulesByDottedPath) {
  TinyDiTModel model;
  EXPECT_EQ(model.find(""), &model);
  Module* attention = model.find("blocks.1.attn1");
  ASSERT_NE(attention, nullptr);
  EXPECT_NE(dynamic_cast<TinyAttention*>(attention), nullptr);
  EXPECT_EQ(&model.at("blocks.1.attn1"), attention);
  EXPECT_EQ(model.find("blocks.7.attn1"), nullptr);
  EXPECT_EQ(model.find("blocks"), nullptr);    // a ModuleList, not a tessera::Module
  EXPECT_EQ(model.find("proj_in"), nullptr);   // a plain torch Linear
}

TEST(Module, AtExplainsWhereAPathStopsMatching) {
  TinyDiTModel model;
  const std::string message = message_of([&] { model.at("blocks.9.attn1"); });
  EXPECT_NE(message.find("'blocks' has no child '9'"), std::string::npos) << message;
  EXPECT_NE(message.find("children: 0, 1"), std::string::npos) << message;
  const std::string not_hookable = message_of([&] { model.at("proj_in"); });
  EXPECT_NE(not_hookable.find("not a tessera::Module"), std::string::npos) << not_hookable;
}

TEST(Module, WildcardMatchesExactlyOneSegment) {
  EXPECT_TRUE(path_matches("blocks.*.attn1", "blocks.12.attn1"));
  EXPECT_FALSE(path_matches("blocks.*.attn1", "blocks.12.ff"));
  EXPECT_FALSE(path_matches("blocks.*", "blocks.1.attn1"));
  EXPECT_FALSE(path_matches("*", ""));
  EXPECT_TRUE(path_matches("", ""));
}

TEST(Module, FindAllReturnsEveryMatchInOrder) {
  TinyDiTModel model(tiny_config(3));
  const auto attentions = model.find_all("blocks.*.attn1");
  ASSERT_EQ(attentions.size(), 3u);
  for (size_t i = 0; i < attentions.size(); ++i) {
    EXPECT_EQ(attentions[i].path, "blocks." + std::to_string(i) + ".attn1");
    EXPECT_EQ(attentions[i].module, model.find(attentions[i].path));
  }
  EXPECT_EQ(model.find_all("blocks.*").size(), 3u);
  EXPECT_TRUE(model.find_all("*").empty());  // the model's direct children are a ModuleList and Linears
  EXPECT_TRUE(model.find_all("blocks.*.nothing").empty());
}

// Zeroes output 0: with it on every attention the blocks reduce to their feed-forward halves.
class ZeroOutputHook : public ModelHook {
 public:
  void post_forward(Module&, Outputs& outputs) override { outputs.at(0) = at::zeros_like(outputs.at(0)); }
};

TEST(Module, HooksOnWildcardPathsRunOnEveryMatchAndOnlyThere) {
  at::manual_seed(0);
  TinyDiTModel model(tiny_config(3));
  const at::Tensor input = at::randn({2, 5, 4});
  const at::Tensor baseline = model({{"hidden_states", input}}).at(0);

  std::vector<std::shared_ptr<CountingHook>> counters;
  for (const auto& match : model.find_all("blocks.*.attn1")) {
    counters.push_back(std::make_shared<CountingHook>());
    auto& registry = HookRegistry::get_or_create(*match.module);
    registry.register_hook("count", counters.back());
    registry.register_hook("zero", std::make_shared<ZeroOutputHook>());
  }
  const at::Tensor hooked = model({{"hidden_states", input}}).at(0);
  for (const auto& counter : counters) EXPECT_EQ(counter->calls, 1);
  EXPECT_EQ(model.find("blocks.0.ff")->hook_registry(), nullptr);
  EXPECT_GT((hooked - baseline).abs().max().item<double>(), 1e-4);

  for (const auto& match : model.find_all("blocks.*.attn1")) match.module->hook_registry()->reset();
  const at::Tensor restored = model({{"hidden_states", input}}).at(0);
  EXPECT_TRUE(at::equal(restored, baseline));
}

TEST(Module, TinyModelRunsWithoutHooks) {
  TinyDiTModel model(tiny_config(2, 3, 5));
  const Outputs outputs = model({{"hidden_states", at::randn({2, 7, 3})}});
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].sizes(), (std::vector<int64_t>{2, 7, 5}));
  EXPECT_THROW(model({{"hidden_states", at::randn({2, 7, 4})}}), Error);
}

}  // namespace
}  // namespace tessera
