// `--cache magcache:...` and `--cache seacache:...`: the defaults are diffusers' MagCacheConfig and SeaCacheConfig,
// every key reaches its field, ratios are a name, numbers or a file, and mistakes say what is accepted; Wan and FLUX
// carry their ratios and refuse names they lack.
#include <gtest/gtest.h>

#include "cache/cache_spec.h"
#include "cache/mag_cache_ratios.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/wan/wan_transformer.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

TEST(MagSeaCacheSpec, DefaultsAreDiffusers) {
  const auto mag = std::get<MagCacheConfig>(parse_cache_spec("magcache"));
  EXPECT_DOUBLE_EQ(mag.threshold, 0.06);
  EXPECT_EQ(mag.max_skip_steps, 3);
  EXPECT_DOUBLE_EQ(mag.retention_ratio, 0.2);
  EXPECT_EQ(mag.num_inference_steps, 0);  // the generation's
  EXPECT_EQ(mag.ratios, MagCacheRatios{std::string(kModelMagCacheRatios)});
  EXPECT_FALSE(mag.calibrate);
  const auto sea = std::get<SeaCacheConfig>(parse_cache_spec("seacache"));
  EXPECT_DOUBLE_EQ(sea.threshold, 0.25);
  EXPECT_EQ(sea.residual_order, 1);
  EXPECT_EQ(sea.retention_steps, 1);
  EXPECT_EQ(sea.cache_end_steps, 1);
  EXPECT_EQ(sea.max_consecutive_cached, 2);
  EXPECT_DOUBLE_EQ(sea.power_exp, 3.0);
}

TEST(MagSeaCacheSpec, KeysReachTheirFields) {
  const auto mag = std::get<MagCacheConfig>(
      parse_cache_spec("mag_cache:threshold=0.1,max_skip=2,retention=0.3,steps=28,ratios=1;0.5,calibrate=true,blocks=b.*"));
  EXPECT_DOUBLE_EQ(mag.threshold, 0.1);
  EXPECT_EQ(mag.max_skip_steps, 2);
  EXPECT_DOUBLE_EQ(mag.retention_ratio, 0.3);
  EXPECT_EQ(mag.num_inference_steps, 28);
  EXPECT_EQ(mag.ratios, (MagCacheRatios{std::vector<double>{1, 0.5}}));
  EXPECT_TRUE(mag.calibrate);
  EXPECT_EQ(mag.blocks, "b.*");
  EXPECT_EQ(std::get<MagCacheConfig>(parse_cache_spec("magcache:ratios=wan2.1-t2v-14b")).ratios,
            MagCacheRatios{std::string("wan2.1-t2v-14b")});
  EXPECT_EQ(std::get<MagCacheConfig>(parse_cache_spec("magcache:ratios=out/ratios.json")).ratios,
            MagCacheRatios{std::string("out/ratios.json")});
  const auto sea = std::get<SeaCacheConfig>(
      parse_cache_spec("sea_cache:threshold=0.4,order=0,retention=2,end=0,max_cached=0,power=2.5,blocks=b.*"));
  EXPECT_DOUBLE_EQ(sea.threshold, 0.4);
  EXPECT_EQ(sea.residual_order, 0);
  EXPECT_EQ(sea.retention_steps, 2);
  EXPECT_EQ(sea.cache_end_steps, 0);
  EXPECT_EQ(sea.max_consecutive_cached, 0);
  EXPECT_DOUBLE_EQ(sea.power_exp, 2.5);
  EXPECT_EQ(sea.blocks, "b.*");
  EXPECT_EQ(cache_method_name(parse_cache_spec("magcache")), "magcache");
  EXPECT_EQ(cache_method_name(parse_cache_spec("seacache")), "seacache");
}

TEST(MagSeaCacheSpec, MistakesSayWhatIsAccepted) {
  std::string message = message_of([] { parse_cache_spec("seacache:order=2"); });
  EXPECT_TRUE(has(message, "order must be 0 or 1")) << message;
  message = message_of([] { parse_cache_spec("magcache:retention=1.5"); });
  EXPECT_TRUE(has(message, "retention must be in [0, 1]")) << message;
  message = message_of([] { parse_cache_spec("magcache:calibrate=yes"); });
  EXPECT_TRUE(has(message, "calibrate takes true or false")) << message;
  message = message_of([] { parse_cache_spec("seacache:power=0"); });
  EXPECT_TRUE(has(message, "power must be > 0")) << message;
  message = message_of([] { parse_cache_spec("magcache:max_skip=-1"); });
  EXPECT_TRUE(has(message, "max_skip must be >= 0")) << message;
  message = message_of([] { parse_cache_spec("deepcache"); });
  EXPECT_TRUE(has(message, "magcache, seacache")) << message;
}

TEST(MagCacheRatios, ModelsCarryTheirsAndRefuseOthers) {
  // Small widths: the ratios are the class's, whatever its config (the defaults are a 14B model).
  WanTransformer3DModel wan({.num_attention_heads = 2, .attention_head_dim = 8, .in_channels = 4, .out_channels = 4,
                             .text_dim = 16, .freq_dim = 16, .ffn_dim = 32, .num_layers = 2});
  const MagCacheConfig resolved = with_model_ratios(wan, MagCacheConfig{});
  const auto& ratios = std::get<std::vector<double>>(resolved.ratios);
  ASSERT_EQ(ratios.size(), 50U);  // the published 50-step Wan2.1 T2V-1.3B ratios, conditional branch
  EXPECT_DOUBLE_EQ(ratios[1], 1.0124);
  EXPECT_DOUBLE_EQ(ratios.back(), 0.81838);
  MagCacheConfig fourteen;
  fourteen.ratios = std::string("wan2.1-t2v-14b");
  EXPECT_DOUBLE_EQ(std::get<std::vector<double>>(with_model_ratios(wan, fourteen).ratios)[1], 1.02504);
  FluxTransformer2DModel flux({.in_channels = 8, .out_channels = 8, .num_layers = 1, .num_single_layers = 1,
                               .attention_head_dim = 16, .num_attention_heads = 2, .joint_attention_dim = 16,
                               .pooled_projection_dim = 8, .axes_dims_rope = {4, 6, 6}});
  EXPECT_EQ(std::get<std::vector<double>>(with_model_ratios(flux, MagCacheConfig{}).ratios).size(), 28U);
  MagCacheConfig missing;
  missing.ratios = std::string("hunyuan");
  const std::string message = message_of([&] { with_model_ratios(flux, missing); });
  EXPECT_TRUE(has(message, "carries no MagCache ratios \"hunyuan\" (it carries: default)")) << message;
  MagCacheConfig file;
  file.ratios = std::string("/nonexistent/ratios.json");
  EXPECT_TRUE(has(message_of([&] { with_model_ratios(wan, file); }), "calibrate-magcache"));
}

}  // namespace
}  // namespace tessera
