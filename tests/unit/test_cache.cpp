// Cache decisions on the tiny model (single rank): what each method computes, skips or forecasts at each step,
// what the skipped blocks return, per-context state, reset, refusals, and disable_cache restoring the model.
// Pyramid Attention Broadcast also on a Wan fixture, which has cross attention (attn2) besides attn1.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "cache/cache_hook.h"
#include "cache/enable_cache.h"
#include "common/check.h"
#include "hooks/hook_registry.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/tiny/tiny_dit.h"
#include "tests/parity/parity_check.h"
#include "tests/unit/error_message.h"
#include "tests/unit/tiny_model_cache_test.h"

namespace tessera {
namespace {

using tessera::testing::close_relative_to_scale;
using tessera::testing::relative_error;

// The actions of every block of `step` in context `context`, as letters (C computed, S skipped, F forecast).
std::string actions(Model& model, int64_t step, const std::string& context = "default") {
  std::string letters;
  for (const CacheRecord& record : cache_records(model)) {
    if (record.step == step && record.context == context) letters += "CSF"[static_cast<int>(record.action)];
  }
  return letters;
}

class CacheOnTinyModel : public TinyModelCacheTest {
 protected:
  CacheOnTinyModel() : TinyModelCacheTest(3) {}
  // The blocks' own output on `x`, with no cache: what a cache must reproduce when it computes.
  at::Tensor uncached(const at::Tensor& x) {
    disable_cache(*model_);
    return run(x);
  }
};

TEST_F(CacheOnTinyModel, FirstBlockCacheSkipsTheRestWhileTheFirstResidualBarelyChanges) {
  enable_cache(*model_, FirstBlockCacheConfig{0.05});
  const at::Tensor first = run(input_);
  EXPECT_EQ(actions(*model_, 0), "CCC");
  const at::Tensor same = run(input_);  // relative change 0: skipped, and the cached residual gives the same output
  EXPECT_EQ(actions(*model_, 1), "CSS");
  EXPECT_TRUE(close_relative_to_scale(same, first, 1e-6));
  const at::Tensor far = input_ * 3 + 1;  // a large change: the remaining blocks run again
  const at::Tensor changed = run(far);
  EXPECT_EQ(actions(*model_, 2), "CCC");
  EXPECT_GT(cache_records(*model_).back().metric, 0.05);
  EXPECT_TRUE(at::equal(changed, uncached(far)));
}

TEST_F(CacheOnTinyModel, FirstBlockCacheSkipsAtTheThresholdItselfAsDiffusers) {
  // diffusers computes when the change is above the threshold: at threshold 0 only an unchanged step skips.
  const at::Tensor expected = run(input_);
  enable_cache(*model_, FirstBlockCacheConfig{0.0});
  for (int step = 0; step < 3; ++step) EXPECT_TRUE(close_relative_to_scale(run(input_), expected, 1e-6));
  EXPECT_EQ(actions(*model_, 2), "CSS");
  const at::Tensor moved = input_ * 1.001;
  EXPECT_TRUE(at::equal(run(moved), uncached(moved)));
}

TEST_F(CacheOnTinyModel, SkippedStepIsAnApproximationOfComputingIt) {
  enable_cache(*model_, FirstBlockCacheConfig{1e9});
  const at::Tensor x1 = input_ + 0.01 * at::randn_like(input_);
  run(input_);
  const at::Tensor y1 = run(x1);
  EXPECT_EQ(actions(*model_, 1), "CSS");
  const at::Tensor exact = uncached(x1);
  EXPECT_FALSE(close_relative_to_scale(y1, exact, 1e-7)) << "a skipped step should differ from computing it";
  EXPECT_LT(relative_error(y1, exact), 0.04);  // the input moved by about 1% of its scale
}

// Records block 0's input each call, so a test can recompute the metric a cache decided on.
class InputRecorder : public ModelHook {
 public:
  void pre_forward(Module&, Args& args) override { inputs.push_back(args.tensor("hidden_states")); }
  std::vector<at::Tensor> inputs;
};

TEST_F(CacheOnTinyModel, TeaCacheAccumulatesUntilTheThreshold) {
  TeaCacheConfig config;
  config.coefficients = std::vector<double>{};  // no rescaling: the metric is the plain accumulated relative change
  config.threshold = 0.25;
  config.warmup_steps = 1;
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
  config.coefficients = std::vector<double>{};
  config.warmup_steps = 1;
  enable_cache(*model_, config);
  const at::Tensor y0 = run(input_);
  const at::Tensor y1 = run(input_);
  EXPECT_EQ(actions(*model_, 1), "SSS");
  EXPECT_TRUE(close_relative_to_scale(y1, y0, 1e-6));
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
    if (step < 2 || step == 3) {
      EXPECT_TRUE(at::equal(y, exact[step])) << "computed steps are exact";
    }
    // A first-order forecast of a slowly moving residual stays close to the computed output.
    if (step == 2) {
      EXPECT_LT(relative_error(y, exact[step]), 0.01);
    }
  }
  // diffusers' schedule: the step after the warm-up forecasts, then steps 3, 6, ... (every 3rd from 3) compute.
  EXPECT_EQ(pattern, "CCC CCC FFF CCC FFF FFF CCC ");
}

TEST_F(CacheOnTinyModel, TaylorSeerOrderZeroReusesTheLastResidual) {
  TaylorSeerConfig config;
  config.order = 0;
  config.interval = 2;
  config.warmup_steps = 0;
  enable_cache(*model_, config);
  run(input_);  // step 0 would forecast, but nothing is cached yet: it computes
  const at::Tensor y1 = run(input_ * 1.5);
  const at::Tensor y2 = run(input_ * 1.5);
  EXPECT_EQ(actions(*model_, 0) + actions(*model_, 1) + actions(*model_, 2), "CCCCCCFFF");
  EXPECT_TRUE(close_relative_to_scale(y2, y1, 1e-6));
}

TEST_F(CacheOnTinyModel, TaylorSeerCanForecastOutputsInsteadOfResiduals) {
  TaylorSeerConfig config;
  config.order = 0;
  config.interval = 2;
  config.warmup_steps = 1;
  config.forecast_residual = false;
  enable_cache(*model_, config);
  const at::Tensor y0 = run(input_);
  // An order-0 output forecast returns every block's last output whatever its input: the model's output stays.
  const at::Tensor y1 = run(input_ * 2);
  EXPECT_EQ(actions(*model_, 1), "FFF");
  EXPECT_TRUE(close_relative_to_scale(y1, y0, 1e-6));
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
  PyramidAttentionBroadcastConfig pab;
  pab.spatial_attention_block_skip_range = 2;
  pab.current_timestep_callback = [] { return 500.0; };
  for (const CacheConfig& config : {CacheConfig{FirstBlockCacheConfig{1e9}}, CacheConfig{TeaCacheConfig{}},
                                    CacheConfig{TaylorSeerConfig{1, 2, 0}}, CacheConfig{pab}}) {
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
  EXPECT_TRUE(has(message, "pyramid_attention_broadcast needs at least one of spatial_attention_block_skip_range"))
      << message;
  PyramidAttentionBroadcastConfig pab;
  pab.cross_attention_block_skip_range = 2;  // TinyDiT blocks have no attn2
  message = message_of([&] { enable_cache(*model_, pab); });
  EXPECT_TRUE(has(message, "pyramid_attention_broadcast selects no attention module of TinyDiTModel")) << message;
  pab.spatial_attention_block_skip_range = 2;
  pab.spatial_attention_timestep_skip_range = {800, 100};
  message = message_of([&] { enable_cache(*model_, pab); });
  EXPECT_TRUE(has(message, "spatial_attention_timestep_skip_range needs lo < hi, got (800, 100)")) << message;
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

PyramidAttentionBroadcastConfig spatial_pab(int64_t skip, std::pair<int64_t, int64_t> range) {
  PyramidAttentionBroadcastConfig config;
  config.spatial_attention_block_skip_range = skip;
  config.spatial_attention_timestep_skip_range = range;
  return config;
}

TEST_F(CacheOnTinyModel, PyramidAttentionBroadcastComputesEveryNthCallInsideTheTimestepRange) {
  enable_cache(*model_, spatial_pab(2, {100, 800}));
  // The range is open (diffusers: lo < t < hi): 800 and 100 compute. Every call counts, also outside the range.
  const double timesteps[] = {900, 700, 600, 500, 800, 300, 100, 50};
  std::string pattern;
  for (int step = 0; step < 8; ++step) {
    set_cache_timestep(*model_, timesteps[step]);
    run(input_);
    pattern += actions(*model_, step) + " ";
  }
  EXPECT_EQ(pattern, "CCC SSS CCC SSS CCC SSS CCC CCC ");
  EXPECT_DOUBLE_EQ(cache_records(*model_).back().metric, 50) << "PAB records the timestep it decided on";
}

TEST_F(CacheOnTinyModel, PyramidAttentionBroadcastReusesTheLastAttentionOutput) {
  enable_cache(*model_, spatial_pab(3, {0, 1000}));
  set_cache_timestep(*model_, 500);
  const at::Tensor y0 = run(input_);
  EXPECT_TRUE(at::equal(y0, uncached(input_)));
  enable_cache(*model_, spatial_pab(3, {0, 1000}));
  set_cache_timestep(*model_, 500);
  run(input_);
  // Same input: the broadcast attention output is the one it would compute, so the output is identical.
  EXPECT_TRUE(at::equal(run(input_), y0));
  EXPECT_EQ(actions(*model_, 1), "SSS");
  // Another input: attention is stale (still the first step's), so the output is an approximation.
  const at::Tensor x = input_ + 0.01 * at::randn_like(input_);
  const at::Tensor y2 = run(x);
  EXPECT_EQ(actions(*model_, 2), "SSS");
  const at::Tensor exact = uncached(x);
  EXPECT_FALSE(close_relative_to_scale(y2, exact, 1e-7));
  EXPECT_LT(relative_error(y2, exact), 0.04);
}

TEST_F(CacheOnTinyModel, PyramidAttentionBroadcastTimestepSources) {
  PyramidAttentionBroadcastConfig config = spatial_pab(2, {100, 800});
  enable_cache(*model_, config);
  std::string message = message_of([&] { run(input_); });
  EXPECT_TRUE(has(message, "pyramid_attention_broadcast needs the current timestep")) << message;
  disable_cache(*model_);
  double now = 500;
  config.current_timestep_callback = [&now] { return now; };
  enable_cache(*model_, config);
  set_cache_timestep(*model_, 900);  // the callback wins over the session's timestep
  run(input_);
  run(input_);
  now = 900;
  run(input_);
  EXPECT_EQ(actions(*model_, 1), "SSS");
  EXPECT_EQ(actions(*model_, 2), "CCC");
  // Contexts (CFG branches) count their calls separately; reset starts counting again.
  cache_context(*model_, "uncond");
  now = 500;
  run(input_);
  run(input_);
  EXPECT_EQ(actions(*model_, 0, "uncond") + actions(*model_, 1, "uncond"), "CCCSSS");
  reset_cache(*model_);
  run(input_);
  EXPECT_EQ(actions(*model_, 0, "uncond"), "CCC");
}

// Wan blocks have self-attention attn1 (spatial) and cross-attention attn2 (cross): each type keeps its own
// timestep range and skip range.
class PyramidAttentionBroadcastOnWan : public ::testing::Test {
 protected:
  PyramidAttentionBroadcastOnWan() {
    const std::string dir = std::string(TESSERA_TEST_FIXTURES_DIR) + "/wan/temporal_patch";
    model_ = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    hidden_states_ = inputs.load("hidden_states");
    timestep_ = inputs.load("timestep");
    text_ = inputs.load("encoder_hidden_states");
  }
  at::Tensor run() {
    return (*model_)({{"hidden_states", hidden_states_}, {"timestep", timestep_}, {"encoder_hidden_states", text_}})
        .at(0);
  }

  c10::InferenceMode inference_;
  std::shared_ptr<Model> model_;
  at::Tensor hidden_states_, timestep_, text_;
};

TEST_F(PyramidAttentionBroadcastOnWan, SpatialAndCrossAttentionFollowTheirOwnRanges) {
  PyramidAttentionBroadcastConfig config = spatial_pab(2, {100, 800});
  config.cross_attention_block_skip_range = 3;
  config.cross_attention_timestep_skip_range = {0, 1000};
  config.temporal_attention_block_skip_range = 2;  // Wan has no temporal_transformer_blocks: hooks nothing
  std::vector<std::string> paths;
  for (const AttentionTarget& target : pyramid_attention_broadcast_targets(*model_, config)) {
    paths.push_back(target.path + (target.kind == AttentionKind::cross ? ":cross" : ":spatial"));
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"blocks.0.attn1:spatial", "blocks.0.attn2:cross", "blocks.1.attn1:spatial",
                                             "blocks.1.attn2:cross", "blocks.2.attn1:spatial", "blocks.2.attn2:cross"}));
  const at::Tensor expected = run();
  enable_cache(*model_, config);
  const double timesteps[] = {900, 700, 600, 500, 400};
  std::string pattern;
  for (int step = 0; step < 5; ++step) {
    set_cache_timestep(*model_, timesteps[step]);
    const at::Tensor output = run();
    // The inputs never change, so broadcasting reproduces what computing gives.
    EXPECT_TRUE(close_relative_to_scale(output, expected, 1e-6)) << "step " << step;
    pattern += actions(*model_, step) + " ";
  }
  // Per step, attn1 attn2 of blocks 0, 1, 2. Spatial: out of range at 900, then every 2nd call. Cross: in range
  // from the start, computes the first call (nothing cached), then every 3rd.
  EXPECT_EQ(pattern, "CCCCCC SSSSSS CSCSCS SCSCSC CSCSCS ");
  disable_cache(*model_);
  EXPECT_TRUE(at::equal(run(), expected));
}

TEST_F(PyramidAttentionBroadcastOnWan, CrossOnlyHooksAttn2) {
  PyramidAttentionBroadcastConfig config;
  config.cross_attention_block_skip_range = 2;
  config.current_timestep_callback = [] { return 500.0; };
  enable_cache(*model_, config);
  run();
  run();
  EXPECT_EQ(actions(*model_, 1), "SSS");
  EXPECT_TRUE(has(cache_stats(*model_), "pyramid_attention_broadcast, 3 blocks")) << cache_stats(*model_);
}

}  // namespace
}  // namespace tessera
