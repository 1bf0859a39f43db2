// The --cache parser: defaults equal the configs', every key reaches its field, and mistakes name the method
// or key and what is accepted.
#include <gtest/gtest.h>

#include <cmath>

#include "cache/cache_spec.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

TEST(CacheSpec, MethodAloneKeepsTheDefaults) {
  const auto fbc = std::get<FirstBlockCacheConfig>(parse_cache_spec("fbc"));
  EXPECT_DOUBLE_EQ(fbc.threshold, FirstBlockCacheConfig{}.threshold);
  EXPECT_EQ(fbc.blocks, "");  // the model's own block stack
  const auto tea = std::get<TeaCacheConfig>(parse_cache_spec("teacache"));
  EXPECT_EQ(tea.coefficients, TeaCacheConfig{}.coefficients);
  const auto taylor = std::get<TaylorSeerConfig>(parse_cache_spec("taylorseer:"));
  EXPECT_EQ(taylor.order, 1);
  EXPECT_EQ(taylor.interval, 5);
  EXPECT_EQ(taylor.warmup_steps, 3);
}

TEST(CacheSpec, DefaultsAreTheReferences) {
  EXPECT_DOUBLE_EQ(FirstBlockCacheConfig{}.threshold, 0.05);
  // The reference TeaCache's default threshold, retention steps and indicator; the fit is the model's own
  // (Wan's numbers: test_cache_inputs.cpp).
  EXPECT_DOUBLE_EQ(TeaCacheConfig{}.threshold, 0.2);
  EXPECT_EQ(TeaCacheConfig{}.coefficients, TeaCacheCoefficients{std::string(kModelTeaCacheFit)});
  EXPECT_EQ(TeaCacheConfig{}.warmup_steps, 5);
  EXPECT_EQ(TeaCacheConfig{}.indicator, TeaCacheIndicator::timestep_embedding);
  const PyramidAttentionBroadcastConfig pab;
  EXPECT_EQ(pab.spatial_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{100, 800}));
  EXPECT_EQ(pab.cross_attention_block_identifiers, (std::vector<std::string>{"blocks", "transformer_blocks"}));
  const FasterCacheConfig faster;
  EXPECT_EQ(faster.spatial_attention_block_skip_range, 2);
  EXPECT_EQ(faster.low_frequency_weight_update_timestep_range, (std::pair<int64_t, int64_t>{99, 901}));
  EXPECT_EQ(faster.high_frequency_weight_update_timestep_range, (std::pair<int64_t, int64_t>{-1, 301}));
  EXPECT_DOUBLE_EQ(faster.alpha_low_frequency, 1.1);
  EXPECT_EQ(faster.unconditional_batch_skip_range, 5);
  EXPECT_EQ(faster.unconditional_batch_timestep_skip_range, (std::pair<int64_t, int64_t>{-1, 641}));
  EXPECT_EQ(faster.tensor_format, "BCFHW");
  EXPECT_FALSE(faster.is_guidance_distilled);
}

TEST(CacheSpec, KeysReachTheirFields) {
  EXPECT_DOUBLE_EQ(std::get<FirstBlockCacheConfig>(parse_cache_spec("fbc:threshold=0.08")).threshold, 0.08);
  EXPECT_EQ(std::get<FirstBlockCacheConfig>(parse_cache_spec("first_block_cache:blocks=layers.*")).blocks, "layers.*");
  const auto tea = std::get<TeaCacheConfig>(parse_cache_spec("teacache:threshold=0.2,warmup=2,coefficients=1;0.5"));
  EXPECT_DOUBLE_EQ(tea.threshold, 0.2);
  EXPECT_EQ(tea.warmup_steps, 2);
  EXPECT_EQ(tea.coefficients, (TeaCacheCoefficients{std::vector<double>{1, 0.5}}));
  EXPECT_EQ(std::get<TeaCacheConfig>(parse_cache_spec("teacache:coefficients=none")).coefficients,
            TeaCacheCoefficients{std::vector<double>{}});
  // A word names a fit the model carries (resolved by enable_cache); inf is a number.
  EXPECT_EQ(std::get<TeaCacheConfig>(parse_cache_spec("teacache:coefficients=flux")).coefficients,
            TeaCacheCoefficients{std::string("flux")});
  EXPECT_EQ(std::get<TeaCacheConfig>(parse_cache_spec("teacache:coefficients=inf")).coefficients,
            TeaCacheCoefficients{std::vector<double>{INFINITY}});
  EXPECT_EQ(std::get<TeaCacheConfig>(parse_cache_spec("teacache:indicator=modulated_input")).indicator,
            TeaCacheIndicator::modulated_input);
  const std::string indicator_message = message_of([] { parse_cache_spec("teacache:indicator=latents"); });
  EXPECT_TRUE(has(indicator_message, "indicator takes timestep_embedding or modulated_input, got \"latents\""))
      << indicator_message;
  const auto taylor = std::get<TaylorSeerConfig>(parse_cache_spec("taylorseer:order=2,interval=4,warmup=0,stop_after=9"));
  EXPECT_EQ(taylor.order, 2);
  EXPECT_EQ(taylor.interval, 4);
  EXPECT_EQ(taylor.warmup_steps, 0);
  EXPECT_EQ(taylor.stop_after_step, 9);
  EXPECT_TRUE(taylor.forecast_residual);
  EXPECT_FALSE(std::get<TaylorSeerConfig>(parse_cache_spec("taylorseer:forecast=output")).forecast_residual);
  const std::string message = message_of([] { parse_cache_spec("taylorseer:forecast=features"); });
  EXPECT_TRUE(has(message, "forecast takes residual or output, got \"features\"")) << message;
}

TEST(CacheSpec, PyramidAttentionBroadcastKeysReachTheirFields) {
  const auto pab = std::get<PyramidAttentionBroadcastConfig>(
      parse_cache_spec("pab:spatial_skip=2,spatial_range=100-800,cross_skip=6,cross_range=-1-681,temporal_skip=3,"
                       "temporal_range=0-1000,spatial_blocks=blocks;layers,cross_blocks=blocks,temporal_blocks=t"));
  EXPECT_EQ(pab.spatial_attention_block_skip_range, 2);
  EXPECT_EQ(pab.cross_attention_block_skip_range, 6);
  EXPECT_EQ(pab.temporal_attention_block_skip_range, 3);
  EXPECT_EQ(pab.spatial_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{100, 800}));
  EXPECT_EQ(pab.cross_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{-1, 681}));
  EXPECT_EQ(pab.temporal_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{0, 1000}));
  EXPECT_EQ(pab.spatial_attention_block_identifiers, (std::vector<std::string>{"blocks", "layers"}));
  EXPECT_EQ(pab.cross_attention_block_identifiers, (std::vector<std::string>{"blocks"}));
  EXPECT_EQ(pab.temporal_attention_block_identifiers, (std::vector<std::string>{"t"}));
  // Keys left out keep diffusers' defaults.
  const auto spatial_only =
      std::get<PyramidAttentionBroadcastConfig>(parse_cache_spec("pyramid_attention_broadcast:spatial_skip=4"));
  EXPECT_EQ(spatial_only.spatial_attention_block_skip_range, 4);
  EXPECT_EQ(spatial_only.cross_attention_block_skip_range, 0);
  EXPECT_EQ(spatial_only.cross_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{100, 800}));
}

TEST(CacheSpec, PyramidAttentionBroadcastMistakesSayWhatIsAccepted) {
  std::string message = message_of([] { parse_cache_spec("pab"); });
  EXPECT_TRUE(has(message, "set at least one of spatial_skip, temporal_skip, cross_skip > 0")) << message;
  message = message_of([] { parse_cache_spec("pab:spatial_skip=2,spatial_range=800"); });
  EXPECT_TRUE(has(message, "spatial_range takes lo-hi (integers, for example 100-800), got \"800\"")) << message;
  message = message_of([] { parse_cache_spec("pab:spatial_skip=2,cross_range=800-100"); });
  EXPECT_TRUE(has(message, "cross_range needs lo < hi, got \"800-100\"")) << message;
  message = message_of([] { parse_cache_spec("pab:spatial_skip=2,spatial_range=a-9"); });
  EXPECT_TRUE(has(message, "spatial_range takes an integer, got \"a\"")) << message;
  message = message_of([] { parse_cache_spec("pab:cross_skip=-2"); });
  EXPECT_TRUE(has(message, "cross_skip must be >= 0 (0: not hooked), got -2")) << message;
  message = message_of([] { parse_cache_spec("pab:skip=2"); });
  EXPECT_TRUE(has(message, "unknown key \"skip\"; known keys: cross_blocks, cross_range, cross_skip")) << message;
}

TEST(CacheSpec, FasterCacheKeysReachTheirFields) {
  const auto defaults = std::get<FasterCacheConfig>(parse_cache_spec("fastercache"));
  EXPECT_EQ(defaults.unconditional_batch_timestep_skip_range, (std::pair<int64_t, int64_t>{-1, 641}));
  EXPECT_FALSE(defaults.attention_weight_callback) << "unset: 0.5, as diffusers";
  const auto faster = std::get<FasterCacheConfig>(parse_cache_spec(
      "faster_cache:spatial_skip=3,spatial_range=-1-700,temporal_skip=2,temporal_range=0-500,"
      "low_frequency_range=50-950,high_frequency_range=-1-200,alpha_low=1.2,alpha_high=1.05,uncond_skip=4,"
      "uncond_range=-1-600,attention_weight=0.3,spatial_blocks=^blocks;^layers,temporal_blocks=^t,"
      "tensor_format=BFCHW,distilled=true"));
  EXPECT_EQ(faster.spatial_attention_block_skip_range, 3);
  EXPECT_EQ(faster.spatial_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{-1, 700}));
  EXPECT_EQ(faster.temporal_attention_block_skip_range, 2);
  EXPECT_EQ(faster.temporal_attention_timestep_skip_range, (std::pair<int64_t, int64_t>{0, 500}));
  EXPECT_EQ(faster.low_frequency_weight_update_timestep_range, (std::pair<int64_t, int64_t>{50, 950}));
  EXPECT_EQ(faster.high_frequency_weight_update_timestep_range, (std::pair<int64_t, int64_t>{-1, 200}));
  EXPECT_DOUBLE_EQ(faster.alpha_low_frequency, 1.2);
  EXPECT_DOUBLE_EQ(faster.alpha_high_frequency, 1.05);
  EXPECT_EQ(faster.unconditional_batch_skip_range, 4);
  EXPECT_EQ(faster.unconditional_batch_timestep_skip_range, (std::pair<int64_t, int64_t>{-1, 600}));
  ASSERT_TRUE(faster.attention_weight_callback);
  EXPECT_DOUBLE_EQ(faster.attention_weight_callback("blocks.0.attn1"), 0.3);
  EXPECT_EQ(faster.spatial_attention_block_identifiers, (std::vector<std::string>{"^blocks", "^layers"}));
  EXPECT_EQ(faster.temporal_attention_block_identifiers, (std::vector<std::string>{"^t"}));
  EXPECT_EQ(faster.tensor_format, "BFCHW");
  EXPECT_TRUE(faster.is_guidance_distilled);
  std::string message = message_of([] { parse_cache_spec("fastercache:uncond_skip=0"); });
  EXPECT_TRUE(has(message, "uncond_skip must be >= 1, got 0")) << message;
  message = message_of([] { parse_cache_spec("fastercache:tensor_format=BSC"); });
  EXPECT_TRUE(has(message, "tensor_format must be BCFHW, BFCHW or BCHW, got \"BSC\"")) << message;
  message = message_of([] { parse_cache_spec("fastercache:distilled=maybe"); });
  EXPECT_TRUE(has(message, "distilled takes true or false, got \"maybe\"")) << message;
}

TEST(CacheSpec, MistakesSayWhatIsAccepted) {
  std::string message = message_of([] { parse_cache_spec("deepcache:threshold=1"); });
  EXPECT_TRUE(has(message, "unknown method \"deepcache\"")) << message;
  EXPECT_TRUE(has(message, "fbc (first_block_cache), teacache, taylorseer, pab (pyramid_attention_broadcast), "
                           "fastercache (faster_cache)"))
      << message;
  message = message_of([] { parse_cache_spec("fbc:treshold=0.1"); });
  EXPECT_TRUE(has(message, "unknown key \"treshold\"; known keys: blocks, threshold")) << message;
  message = message_of([] { parse_cache_spec("fbc:threshold=fast"); });
  EXPECT_TRUE(has(message, "threshold takes a number, got \"fast\"")) << message;
  message = message_of([] { parse_cache_spec("taylorseer:order=1.5"); });
  EXPECT_TRUE(has(message, "order takes an integer, got \"1.5\"")) << message;
  message = message_of([] { parse_cache_spec("taylorseer:interval=0"); });
  EXPECT_TRUE(has(message, "interval must be >= 1")) << message;
  message = message_of([] { parse_cache_spec("teacache:0.1"); });
  EXPECT_TRUE(has(message, "expected key=value, got \"0.1\"")) << message;
  message = message_of([] { parse_cache_spec("fbc:threshold=-1"); });
  EXPECT_TRUE(has(message, "threshold must be >= 0")) << message;
}

}  // namespace
}  // namespace tessera
