// Cache decisions on the tiny model (single rank): what each method computes, skips or forecasts at each step,
// what the skipped blocks return, per-context state, reset, refusals, and disable_cache restoring the model.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "cache/enable_cache.h"
#include "common/check.h"
#include "hooks/hook_registry.h"
#include "tests/unit/error_message.h"
#include "src/models/tiny/tiny_dit.h"

namespace tessera {
namespace {

// The actions of every block of `step` in context `context`, as letters (C computed, S skipped, F forecast).
std::string actions(Model& model, int64_t step, const std::string& context = "default") {
  std::string letters;
  for (const CacheRecord& record : cache_records(model)) {
    if (record.step == step && record.context == context) letters += "CSF"[static_cast<int>(record.action)];
  }
  return letters;
}

class CacheOnTinyModel : public ::testing::Test {
 protected:
  CacheOnTinyModel() {
    at::manual_seed(0);
    TinyDiTConfig config;
    config.num_layers = 3;
    model_ = std::make_shared<TinyDiTModel>(config);
    input_ = at::randn({1, 8, 4});
  }
  at::Tensor run(const at::Tensor& x) { return (*model_)({{"hidden_states", x}}).at(0); }
  // The blocks' own output on `x`, with no cache: what a cache must reproduce when it computes.
  at::Tensor uncached(const at::Tensor& x) {
    disable_cache(*model_);
    return run(x);
  }

  c10::InferenceMode inference_;
  std::shared_ptr<TinyDiTModel> model_;
  at::Tensor input_;
};

TEST_F(CacheOnTinyModel, FirstBlockCacheSkipsTheRestWhileTheFirstResidualBarelyChanges) {
  enable_cache(*model_, FirstBlockCacheConfig{0.05});
  const at::Tensor first = run(input_);
  EXPECT_EQ(actions(*model_, 0), "CCC");
  const at::Tensor same = run(input_);  // relative change 0: skipped, and the cached residual gives the same output
  EXPECT_EQ(actions(*model_, 1), "CSS");
  EXPECT_TRUE(at::allclose(same, first, 1e-6, 1e-6));
  const at::Tensor far = input_ * 3 + 1;  // a large change: the remaining blocks run again
  const at::Tensor changed = run(far);
  EXPECT_EQ(actions(*model_, 2), "CCC");
  EXPECT_GT(cache_records(*model_).back().metric, 0.05);
  EXPECT_TRUE(at::equal(changed, uncached(far)));
}

TEST_F(CacheOnTinyModel, FirstBlockCacheWithThresholdZeroNeverSkips) {
  const at::Tensor expected = run(input_);
  enable_cache(*model_, FirstBlockCacheConfig{0.0});
  for (int step = 0; step < 3; ++step) EXPECT_TRUE(at::equal(run(input_), expected));
  EXPECT_EQ(actions(*model_, 2), "CCC");
}

TEST_F(CacheOnTinyModel, SkippedStepIsAnApproximationOfComputingIt) {
  enable_cache(*model_, FirstBlockCacheConfig{1e9});
  const at::Tensor x1 = input_ + 0.01 * at::randn_like(input_);
  run(input_);
  const at::Tensor y1 = run(x1);
  EXPECT_EQ(actions(*model_, 1), "CSS");
  const at::Tensor exact = uncached(x1);
  EXPECT_FALSE(at::allclose(y1, exact, 1e-7, 1e-7)) << "a skipped step should differ from computing it";
  EXPECT_LT((y1 - exact).abs().max().item<double>(), 0.1);
}

// Records block 0's input each call, so a test can recompute the metric a cache decided on.
class InputRecorder : public ModelHook {
 public:
  void pre_forward(Module&, Args& args) override { inputs.push_back(args.tensor("hidden_states")); }
  std::vector<at::Tensor> inputs;
};

TEST_F(CacheOnTinyModel, TeaCacheAccumulatesUntilTheThreshold) {
  TeaCacheConfig config;
  config.coefficients.clear();  // no rescaling: the metric is the plain accumulated relative change
  config.threshold = 0.25;
  enable_cache(*model_, config);
  auto recorder = std::make_shared<InputRecorder>();
  HookRegistry::get_or_create(model_->at("blocks.0")).register_hook("recorder", recorder);
  at::Tensor x = input_;
  std::string pattern, expected;
  double accumulated = 0;
  for (int step = 0; step < 8; ++step) {
    run(x);
    pattern += actions(*model_, step) + " ";
    // TinyDiT blocks have no modulation table: the indicator is block 0's input.
    if (step > 0) {
      const at::Tensor& now = recorder->inputs[step];
      const at::Tensor& before = recorder->inputs[step - 1];
      accumulated += ((now - before).abs().sum() / before.abs().sum()).item<double>();
    }
    const bool skip = step > 0 && accumulated < config.threshold;
    expected += skip ? "SSS " : "CCC ";
    if (!skip) accumulated = 0;
    x = x * 1.1;
  }
  EXPECT_EQ(pattern, expected);
  EXPECT_NE(pattern.find("SSS"), std::string::npos) << pattern;
  EXPECT_NE(pattern.find("CCC", 1), std::string::npos) << pattern;
}

TEST_F(CacheOnTinyModel, TeaCacheSkipReturnsInputPlusStackResidual) {
  TeaCacheConfig config;
  config.threshold = 1e9;
  config.coefficients.clear();
  enable_cache(*model_, config);
  const at::Tensor y0 = run(input_);
  const at::Tensor y1 = run(input_);
  EXPECT_EQ(actions(*model_, 1), "SSS");
  EXPECT_TRUE(at::allclose(y1, y0, 1e-6, 1e-6));
}

TEST_F(CacheOnTinyModel, TaylorSeerComputesEveryIntervalAndForecastsBetween) {
  std::vector<at::Tensor> inputs, exact;
  for (int step = 0; step < 7; ++step) {
    inputs.push_back(input_ + 0.01 * step);
    exact.push_back(run(inputs.back()));
  }
  TaylorSeerConfig config;
  config.order = 1;
  config.interval = 3;
  config.warmup_steps = 2;
  enable_cache(*model_, config);
  std::string pattern;
  for (int step = 0; step < 7; ++step) {
    const at::Tensor y = run(inputs[step]);
    pattern += actions(*model_, step) + " ";
    if (step < 3) {
      EXPECT_TRUE(at::equal(y, exact[step])) << "computed steps are exact";
    }
    // A first-order forecast of a slowly moving residual stays close to the computed output.
    if (step == 3) {
      EXPECT_LT((y - exact[step]).abs().max().item<double>(), 0.02);
    }
  }
  EXPECT_EQ(pattern, "CCC CCC CCC FFF FFF CCC FFF ");
}

TEST_F(CacheOnTinyModel, TaylorSeerOrderZeroReusesTheLastResidual) {
  TaylorSeerConfig config;
  config.order = 0;
  config.interval = 2;
  config.warmup_steps = 0;
  enable_cache(*model_, config);
  const at::Tensor y0 = run(input_);
  const at::Tensor y1 = run(input_);
  EXPECT_EQ(actions(*model_, 1), "FFF");
  EXPECT_TRUE(at::allclose(y1, y0, 1e-6, 1e-6));
}

TEST_F(CacheOnTinyModel, ContextsKeepSeparateState) {
  enable_cache(*model_, FirstBlockCacheConfig{1e9});
  cache_context(*model_, "cond");
  run(input_);
  run(input_);
  cache_context(*model_, "uncond");
  run(input_ * 2);  // the uncond branch has no history yet: it computes
  EXPECT_EQ(actions(*model_, 1, "cond"), "CSS");
  EXPECT_EQ(actions(*model_, 0, "uncond"), "CCC");
  reset_cache(*model_);
  EXPECT_TRUE(cache_records(*model_).empty());
  run(input_);
  EXPECT_EQ(actions(*model_, 0, "uncond"), "CCC") << "reset keeps the selected context and starts at step 0";
}

TEST_F(CacheOnTinyModel, DisableRestoresTheUncachedModelExactly) {
  const at::Tensor expected = run(input_);
  for (const CacheConfig& config : {CacheConfig{FirstBlockCacheConfig{1e9}}, CacheConfig{TeaCacheConfig{}},
                                    CacheConfig{TaylorSeerConfig{1, 2, 0}}}) {
    enable_cache(*model_, config);
    EXPECT_TRUE(cache_enabled(*model_));
    run(input_);
    run(input_ * 1.01);
    disable_cache(*model_);
    EXPECT_FALSE(cache_enabled(*model_));
    EXPECT_TRUE(at::equal(run(input_), expected)) << cache_method_name(config);
  }
}

TEST_F(CacheOnTinyModel, StatsTableHasOneLinePerStep) {
  enable_cache(*model_, FirstBlockCacheConfig{1e9});
  run(input_);
  run(input_);
  const std::string table = cache_stats(*model_);
  EXPECT_TRUE(has(table, "first_block_cache, 3 blocks")) << table;
  EXPECT_TRUE(has(table, "default       0  -           CCC")) << table;
  EXPECT_TRUE(has(table, "default       1  0           CSS")) << table;
  EXPECT_TRUE(has(table, "block calls: 4 computed, 2 skipped, 0 forecast")) << table;
}

class NoCacheModel : public Model {
 public:
  std::string class_name() const override { return "NoCacheModel"; }
  ModelCapabilities capabilities() const override { return {}; }

 protected:
  Outputs forward_impl(Args&) override { return {}; }
};

TEST_F(CacheOnTinyModel, RefusesWhatItCannotDo) {
  NoCacheModel bare;
  std::string message = message_of([&] { enable_cache(bare, FirstBlockCacheConfig{}); });
  EXPECT_TRUE(has(message, "NoCacheModel does not support caches")) << message;
  message = message_of([&] { enable_cache(*model_, PyramidAttentionBroadcastConfig{}); });
  EXPECT_TRUE(has(message, "pyramid_attention_broadcast is not implemented yet")) << message;
  message = message_of([&] { enable_cache(*model_, FasterCacheConfig{}); });
  EXPECT_TRUE(has(message, "faster_cache is not implemented yet")) << message;
  FirstBlockCacheConfig nowhere;
  nowhere.blocks = "layers.*";
  message = message_of([&] { enable_cache(*model_, nowhere); });
  EXPECT_TRUE(has(message, "\"layers.*\" matches no module of TinyDiTModel")) << message;
  enable_cache(*model_, FirstBlockCacheConfig{});
  message = message_of([&] { enable_cache(*model_, TeaCacheConfig{}); });
  EXPECT_TRUE(has(message, "a cache is already enabled")) << message;
  disable_cache(*model_);
  message = message_of([&] { cache_context(*model_, "cond"); });
  EXPECT_TRUE(has(message, "no cache is enabled on TinyDiTModel")) << message;
}

}  // namespace
}  // namespace tessera
