// TextKVCache (cache/text_kv_cache.h) on a small Wan transformer: the cached forwards are the uncached ones bit for
// bit, each prompt tensor gets its own entries, a reset forgets them, and a model whose text keys change from step
// to step (FLUX's joint attention) is refused.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <vector>

#include "cache/cache_config.h"
#include "cache/enable_cache.h"
#include "cache/text_kv_cache.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/wan/wan_transformer.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

WanConfig small_wan() {
  return {.num_attention_heads = 2, .attention_head_dim = 8, .in_channels = 4, .out_channels = 4, .text_dim = 16,
          .freq_dim = 16, .ffn_dim = 32, .num_layers = 3};
}

struct Call {
  at::Tensor latents;
  double timestep;
  at::Tensor prompt;
};

std::vector<at::Tensor> run(WanTransformer3DModel& model, const std::vector<Call>& calls) {
  std::vector<at::Tensor> outputs;
  for (const Call& call : calls) {
    outputs.push_back(model({{"hidden_states", call.latents},
                             {"timestep", at::full({call.latents.size(0)}, call.timestep, at::kFloat)},
                             {"encoder_hidden_states", call.prompt}})
                          .at(0));
  }
  return outputs;
}

void expect_identical(const std::vector<at::Tensor>& actual, const std::vector<at::Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_TRUE(at::equal(actual[i], expected[i])) << "call " << i;
}

class TextKVCacheTest : public ::testing::Test {
 protected:
  TextKVCacheTest() : model_(small_wan()) {
    at::manual_seed(26);
    latents_ = at::randn({1, 4, 2, 4, 4});
    prompt_ = at::randn({1, 5, 16});
    negative_ = at::randn({1, 5, 16});
    // Three steps of sequential CFG, then the prompt again as a new tensor with the same values.
    for (double t : {900.0, 600.0, 300.0}) {
      calls_.push_back({latents_ * (t / 1000), t, prompt_});
      calls_.push_back({latents_ * (t / 1000), t, negative_});
    }
    calls_.push_back({latents_, 100.0, prompt_.clone()});
  }

  c10::InferenceMode inference_;
  WanTransformer3DModel model_;
  at::Tensor latents_, prompt_, negative_;
  std::vector<Call> calls_;
};

TEST_F(TextKVCacheTest, ReusesEachPromptsKeysAndValuesBitForBit) {
  const auto uncached = run(model_, calls_);
  ASSERT_TRUE(supports_text_kv_cache(model_));
  enable_text_kv_cache(model_);
  expect_identical(run(model_, calls_), uncached);
  // 3 blocks' cross-attentions and the text embedding: the prompt, the negative prompt and the prompt's copy
  // computed once each, every other call reused.
  const TextKVCacheStats stats = text_kv_cache_stats(model_);
  EXPECT_EQ(stats.misses, 3 * (3 + 1));
  EXPECT_EQ(stats.hits, (3 + 1) * 4);
  EXPECT_EQ(stats.entries, 3 * (3 + 1));

  reset_text_kv_cache(model_);
  EXPECT_EQ(text_kv_cache_stats(model_).entries, 0);
  EXPECT_EQ(text_kv_cache_stats(model_).hits, 0);
  expect_identical(run(model_, calls_), uncached);
  disable_text_kv_cache(model_);
  EXPECT_FALSE(text_kv_cache_enabled(model_));
  expect_identical(run(model_, calls_), uncached);
}

TEST_F(TextKVCacheTest, TheCFGBatchIsOneEntryAndABlockCalledAloneIsNotCached) {
  const at::Tensor both = at::cat({negative_, prompt_});
  const std::vector<Call> batch = {{at::cat({latents_, latents_}), 900.0, both},
                                   {at::cat({latents_, latents_}) * 0.5, 500.0, both}};
  const auto uncached = run(model_, batch);
  use_text_kv_cache(model_, TextKVMode::automatic);
  ASSERT_TRUE(text_kv_cache_enabled(model_));
  expect_identical(run(model_, batch), uncached);
  EXPECT_EQ(text_kv_cache_stats(model_).entries, 3 + 1);  // the cross-attentions and the text embedding
  EXPECT_EQ(text_kv_cache_stats(model_).hits, 3 + 1);
  // Outside the model's forward nothing says which prompt the text came from: the attention projects it.
  const at::Tensor text = at::randn({1, 5, 16});
  model_.at("blocks.0.attn2")({{"hidden_states", at::randn({1, 8, 16})}, {"encoder_hidden_states", text}});
  EXPECT_EQ(text_kv_cache_stats(model_).entries, 3 + 1);
  EXPECT_FALSE(use_text_kv_cache(model_, TextKVMode::off));
  EXPECT_FALSE(text_kv_cache_enabled(model_));
}

TEST_F(TextKVCacheTest, CombinesWithAStepCacheExactly) {
  // A block cache that skips whole blocks, and PAB, whose hook on each attn2 replaces its forward (broadcasting every
  // other call): the keys reach the forward it does run through the arguments.
  const CacheConfig step_caches[] = {
      FirstBlockCacheConfig{.threshold = 0.5},
      PyramidAttentionBroadcastConfig{.cross_attention_block_skip_range = 2,
                                      .cross_attention_timestep_skip_range = {0, 1000},
                                      .current_timestep_callback = [] { return 500.0; }}};
  for (const CacheConfig& step_cache : step_caches) {
    enable_cache(model_, step_cache);
    const auto step_cache_alone = run(model_, calls_);
    disable_cache(model_);
    enable_cache(model_, step_cache);
    enable_text_kv_cache(model_);
    expect_identical(run(model_, calls_), step_cache_alone);
    EXPECT_GT(text_kv_cache_stats(model_).hits, 0) << cache_method_name(step_cache);
    disable_cache(model_);
    disable_text_kv_cache(model_);
  }
  enable_text_kv_cache(model_);
  const std::string message = message_of([&] { enable_text_kv_cache(model_); });
  EXPECT_TRUE(has(message, "the text K/V cache is already enabled on WanTransformer3DModel")) << message;
}

TEST(TextKVCache, RefusesAModelWhoseTextKeysChangeEveryStep) {
  c10::InferenceMode inference;
  const FluxConfig config{.in_channels = 8, .out_channels = 8, .num_layers = 1, .num_single_layers = 1,
                          .attention_head_dim = 16, .num_attention_heads = 2, .joint_attention_dim = 16,
                          .pooled_projection_dim = 8, .axes_dims_rope = {4, 6, 6}};
  FluxTransformer2DModel flux(config);
  EXPECT_FALSE(supports_text_kv_cache(flux));
  EXPECT_FALSE(use_text_kv_cache(flux, TextKVMode::automatic));
  EXPECT_FALSE(text_kv_cache_enabled(flux));
  const std::string message = message_of([&] { use_text_kv_cache(flux, TextKVMode::on); });
  EXPECT_TRUE(has(message, "FluxTransformer2DModel has no text keys and values that stay the same from step to step"))
      << message;
  EXPECT_TRUE(has(message, "use --text-kv-cache off or auto")) << message;
  EXPECT_FALSE(text_kv_cache_enabled(flux));
}

TEST(TextKVCache, ParsesItsModes) {
  EXPECT_EQ(parse_text_kv_mode("auto"), TextKVMode::automatic);
  EXPECT_EQ(parse_text_kv_mode("on"), TextKVMode::on);
  EXPECT_EQ(parse_text_kv_mode("off"), TextKVMode::off);
  const std::string message = message_of([] { parse_text_kv_mode("yes"); });
  EXPECT_TRUE(has(message, "unknown text K/V cache mode 'yes'; use auto, on or off")) << message;
}

}  // namespace
}  // namespace tessera
