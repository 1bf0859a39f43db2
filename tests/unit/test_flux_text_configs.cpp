// FLUX's text encoder configs: CLIPTextModel's reader and the UMT5 reader's T5 mode (issue 14).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/models/clip/clip_text_config.h"
#include "src/models/umt5/umt5_config.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

// FLUX.1-dev's text_encoder/config.json, its shaping keys.
nlohmann::json flux_clip_config() {
  return {{"architectures", {"CLIPTextModel"}}, {"model_type", "clip_text_model"}, {"vocab_size", 49408},
          {"hidden_size", 768}, {"intermediate_size", 3072}, {"num_hidden_layers", 12},
          {"num_attention_heads", 12}, {"max_position_embeddings", 77}, {"hidden_act", "quick_gelu"},
          {"layer_norm_eps", 1e-5}, {"eos_token_id", 2}, {"bos_token_id", 0}, {"pad_token_id", 1}};
}

TEST(ClipTextConfig, ReadsFluxTextEncoder) {
  const ClipTextConfig config = clip_text_config_from_json(flux_clip_config(), "config.json");
  EXPECT_EQ(config.hidden_size, 768);
  EXPECT_EQ(config.head_dim(), 64);
  EXPECT_EQ(config.hidden_act, ClipActivation::kQuickGelu);
  EXPECT_TRUE(config.legacy_pooling());
  nlohmann::json corrected = flux_clip_config();
  corrected["eos_token_id"] = 49407;
  corrected["hidden_act"] = "gelu";
  corrected.erase("max_position_embeddings");
  const ClipTextConfig read = clip_text_config_from_json(corrected, "config.json");
  EXPECT_FALSE(read.legacy_pooling());
  EXPECT_EQ(read.hidden_act, ClipActivation::kGelu);
  EXPECT_EQ(read.max_position_embeddings, 77);
}

TEST(ClipTextConfig, BadConfigsNameTheKey) {
  const auto error = [](const std::string& key, const nlohmann::json& value) {
    nlohmann::json config = flux_clip_config();
    if (value.is_null()) {
      config.erase(key);
    } else {
      config[key] = value;
    }
    return message_of([&] { clip_text_config_from_json(config, "te/config.json"); });
  };
  EXPECT_TRUE(has(error("model_type", "clip"), "a whole CLIPModel's config"));
  EXPECT_TRUE(has(error("architectures", {"CLIPTextModelWithProjection"}), "\"architectures\""));
  EXPECT_TRUE(has(error("hidden_size", nullptr), "te/config.json lacks \"hidden_size\""));
  EXPECT_TRUE(has(error("num_attention_heads", 7), "not a multiple of \"num_attention_heads\" 7"));
  EXPECT_TRUE(has(error("hidden_act", "swish"), "\"hidden_act\" = \"swish\" is not supported"));
  EXPECT_TRUE(has(error("eos_token_id", {2, 3}), "\"eos_token_id\" must be one integer"));
  EXPECT_TRUE(has(error("vocab_size", -1), "\"vocab_size\""));
  EXPECT_TRUE(has(error("layer_norm_eps", 0), "\"layer_norm_eps\" must be a positive number"));
}

// FLUX.1-dev's text_encoder_2/config.json (T5-v1.1-XXL), its shaping keys.
nlohmann::json flux_t5_config() {
  return {{"architectures", {"T5EncoderModel"}}, {"model_type", "t5"}, {"vocab_size", 32128}, {"d_model", 4096},
          {"d_kv", 64}, {"num_heads", 64}, {"num_layers", 24}, {"d_ff", 10240},
          {"feed_forward_proj", "gated-gelu"}, {"relative_attention_num_buckets", 32},
          {"relative_attention_max_distance", 128}, {"layer_norm_epsilon", 1e-6}};
}

TEST(T5Config, SharesTheFirstBlocksPositionBias) {
  const Umt5Config t5 = umt5_config_from_json(flux_t5_config(), "config.json");
  EXPECT_TRUE(t5.shared_position_bias);
  EXPECT_EQ(t5.activation, Umt5Activation::kGeluTanh);
  nlohmann::json umt5 = flux_t5_config();
  umt5["model_type"] = "umt5";
  umt5["architectures"] = {"UMT5EncoderModel"};
  EXPECT_FALSE(umt5_config_from_json(umt5, "config.json").shared_position_bias);
}

TEST(T5Config, WholeSeq2SeqModelsAndOtherTypesAreRefused) {
  nlohmann::json config = flux_t5_config();
  config["architectures"] = {"T5ForConditionalGeneration"};
  EXPECT_TRUE(has(message_of([&] { umt5_config_from_json(config, "c.json"); }), "tessera builds T5EncoderModel"));
  config["model_type"] = "mt5";
  EXPECT_TRUE(has(message_of([&] { umt5_config_from_json(config, "c.json"); }), "\"model_type\" \"mt5\""));
}

}  // namespace
}  // namespace tessera
