#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "error_message.h"
#include "src/models/flux/flux_config.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/parameters.h"

namespace tessera {
namespace {

std::string error_of(const nlohmann::json& config) {
  return message_of([&] { flux_config_from_json(config); });
}

TEST(FluxConfig, ReadsDiffusersKeysWithTheirDefaults) {
  const auto config = flux_config_from_json(nlohmann::json::parse(R"({
      "_class_name": "FluxTransformer2DModel", "_diffusers_version": "0.42.1", "attention_head_dim": 16,
      "axes_dims_rope": [4, 6, 6], "guidance_embeds": true, "in_channels": 16, "out_channels": null,
      "num_attention_heads": 2, "num_layers": 1, "num_single_layers": 0, "patch_size": 2})"));
  EXPECT_EQ(config.inner_dim(), 32);
  EXPECT_EQ(config.out_channels, 16);  // null: follows in_channels, as in diffusers
  EXPECT_EQ(config.output_channels(), 64);
  EXPECT_TRUE(config.guidance_embeds);
  EXPECT_EQ(config.num_single_layers, 0);
  EXPECT_EQ(config.joint_attention_dim, 4096);  // untouched defaults
  EXPECT_EQ(config.pooled_projection_dim, 768);
}

TEST(FluxConfig, DefaultsAreFlux1) {
  const auto config = flux_config_from_json(nlohmann::json::object());
  EXPECT_EQ(config.inner_dim(), 3072);
  EXPECT_EQ(config.axes_dims_rope, (std::vector<int64_t>{16, 56, 56}));
  EXPECT_EQ(config.out_channels, 64);
}

TEST(FluxConfig, RefusesInconsistentRotaryAxes) {
  const std::string message = error_of({{"attention_head_dim", 16}, {"axes_dims_rope", {4, 6, 8}}});
  EXPECT_TRUE(has(message, "FluxTransformer2DModel config \"axes_dims_rope\" = [4, 6, 8] sums to 18 but "
                           "\"attention_head_dim\" is 16")) << message;
  EXPECT_TRUE(has(error_of({{"attention_head_dim", 15}, {"axes_dims_rope", {4, 5, 6}}}), "every rotary dimension must be even (they rotate pairs), got 5"));
  EXPECT_TRUE(has(error_of({{"axes_dims_rope", 128}}), "\"axes_dims_rope\" must be a list"));
}

TEST(FluxConfig, RefusesWrongTypesAndUnknownKeys) {
  EXPECT_TRUE(has(error_of({{"guidance_embeds", "yes"}}), "\"guidance_embeds\" must be true or false"));
  EXPECT_TRUE(has(error_of({{"num_layers", 2.5}}), "\"num_layers\" must be an integer"));
  EXPECT_TRUE(has(error_of({{"pooled_projection_dim", 0}}), "\"pooled_projection_dim\" must be an integer from 1"));
  EXPECT_TRUE(has(error_of({{"qkv_fused", true}}), "unknown FluxTransformer2DModel config key \"qkv_fused\""));
  EXPECT_TRUE(has(error_of(nlohmann::json::array()), "must be a JSON object"));
}

// Built for loading (the meta device), FLUX.1-dev's full size allocates nothing and names its parameters as
// diffusers does.
TEST(FluxConfig, Flux1DevBuildsShapeOnlyWithDiffusersNames) {
  MetaParameterScope shape_only;
  FluxConfig config;
  config.guidance_embeds = true;
  const FluxTransformer2DModel model(config);
  const auto parameters = model.named_parameters();
  EXPECT_EQ(model.metadata().parameter_count, 11901408320);  // FLUX.1-dev's transformer
  EXPECT_TRUE(parameters.contains("transformer_blocks.18.attn.norm_added_k.weight"));
  EXPECT_TRUE(parameters.contains("single_transformer_blocks.37.proj_out.bias"));
  EXPECT_TRUE(parameters.contains("time_text_embed.guidance_embedder.linear_2.weight"));
  EXPECT_TRUE(parameters.contains("norm_out.linear.weight"));
  EXPECT_TRUE(parameters["x_embedder.weight"].is_meta());
}

}  // namespace
}  // namespace tessera
