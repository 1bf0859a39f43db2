// CLIPVisionModel's config reader: Wan2.1 image-to-video's image_encoder/config.json (issue 24).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/models/clip/clip_vision_config.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

// Wan-AI/Wan2.1-I2V-14B-480P-Diffusers' image_encoder/config.json, its shaping keys (ViT-H/14).
nlohmann::json wan_image_encoder_config() {
  return {{"architectures", {"CLIPVisionModel"}}, {"model_type", "clip_vision_model"}, {"hidden_size", 1280},
          {"intermediate_size", 5120}, {"num_hidden_layers", 32}, {"num_attention_heads", 16},
          {"num_channels", 3}, {"image_size", 224}, {"patch_size", 14}, {"hidden_act", "gelu"},
          {"layer_norm_eps", 1e-5}, {"projection_dim", 1024}};
}

TEST(ClipVisionConfig, ReadsWanImageEncoder) {
  const ClipVisionConfig config = clip_vision_config_from_json(wan_image_encoder_config(), "config.json");
  EXPECT_EQ(config.head_dim(), 80);
  EXPECT_EQ(config.grid(), 16);
  EXPECT_EQ(config.num_positions(), 257);
  EXPECT_EQ(config.hidden_act, ClipActivation::kGelu);
  EXPECT_FALSE(config.layer().causal);
  nlohmann::json defaults = wan_image_encoder_config();
  for (const char* key : {"num_channels", "image_size", "patch_size", "hidden_act", "layer_norm_eps"}) {
    defaults.erase(key);
  }
  const ClipVisionConfig read = clip_vision_config_from_json(defaults, "config.json");
  EXPECT_EQ(read.num_channels, 3);
  EXPECT_EQ(read.image_size, 224);
  EXPECT_EQ(read.patch_size, 32);
  EXPECT_EQ(read.num_positions(), 50);  // 7x7 patches, the remainder dropped as transformers' convolution does
  EXPECT_EQ(read.hidden_act, ClipActivation::kQuickGelu);
  EXPECT_DOUBLE_EQ(read.layer_norm_eps, 1e-5);
}

// The encoder as diffusers' Wan conversion script saves it, with its projection head (not run).
TEST(ClipVisionConfig, ReadsTheEncoderWithItsProjection) {
  nlohmann::json config = wan_image_encoder_config();
  config["architectures"] = {"CLIPVisionModelWithProjection"};
  EXPECT_EQ(clip_vision_config_from_json(config, "config.json").num_positions(), 257);
}

TEST(ClipVisionConfig, BadConfigsNameTheKeyAndFile) {
  const auto error = [](const std::string& key, const nlohmann::json& value) {
    nlohmann::json config = wan_image_encoder_config();
    if (value.is_null()) {
      config.erase(key);
    } else {
      config[key] = value;
    }
    return message_of([&] { clip_vision_config_from_json(config, "ie/config.json"); });
  };
  EXPECT_TRUE(has(error("model_type", "clip_text_model"),
                  "CLIP vision config ie/config.json has \"model_type\" \"clip_text_model\"; tessera builds "
                  "CLIPVisionModel"));
  EXPECT_TRUE(has(error("model_type", "clip"), "a whole CLIPModel's config: use its vision_config"));
  EXPECT_TRUE(has(error("architectures", {"CLIPTextModel"}), "\"architectures\""));
  EXPECT_TRUE(has(error("hidden_size", nullptr), "ie/config.json lacks \"hidden_size\""));
  EXPECT_TRUE(has(error("num_hidden_layers", nullptr), "ie/config.json lacks \"num_hidden_layers\""));
  EXPECT_TRUE(has(error("num_attention_heads", 7), "not a multiple of \"num_attention_heads\" 7"));
  EXPECT_TRUE(has(error("image_size", {224, 224}), "ie/config.json \"image_size\""));
  EXPECT_TRUE(has(error("patch_size", 0), "ie/config.json \"patch_size\""));
  EXPECT_TRUE(has(error("patch_size", 300), "\"patch_size\" 300 is larger than \"image_size\" 224"));
  EXPECT_TRUE(has(error("hidden_act", "swish"), "\"hidden_act\" = \"swish\" is not supported"));
  EXPECT_TRUE(has(error("layer_norm_eps", 0), "\"layer_norm_eps\" must be a positive number"));
  EXPECT_TRUE(has(message_of([] { clip_vision_config_from_json(nlohmann::json::array(), "x.json"); }),
                  "CLIP vision config x.json must be a JSON object"));
}

}  // namespace
}  // namespace tessera
