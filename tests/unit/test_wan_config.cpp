#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/models/wan/wan_config.h"
#include "src/models/wan/wan_transformer.h"

namespace tessera {
namespace {

std::string error_of(const nlohmann::json& config) {
  try {
    wan_config_from_json(config);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(WanConfig, ReadsDiffusersKeysWithTheirDefaults) {
  const auto config = wan_config_from_json(nlohmann::json::parse(R"({
      "_class_name": "WanTransformer3DModel", "_diffusers_version": "0.42.1", "num_layers": 3,
      "attention_head_dim": 10, "num_attention_heads": 3, "patch_size": [2, 2, 2], "out_channels": null,
      "in_channels": 8, "image_dim": null, "qk_norm": "rms_norm_across_heads", "cross_attn_norm": false})"));
  EXPECT_EQ(config.num_layers, 3);
  EXPECT_EQ(config.inner_dim(), 30);
  EXPECT_EQ(config.out_channels, 8);  // null: follows in_channels, as in diffusers
  EXPECT_EQ(config.patch_size[0], 2);
  EXPECT_FALSE(config.cross_attn_norm);
  EXPECT_EQ(config.text_dim, 4096);   // untouched default
  EXPECT_EQ(config.ffn_dim, 13824);
}

TEST(WanConfig, RefusesWhatWouldChangeTheArchitecture) {
  EXPECT_NE(error_of({{"window_size", {-1, -1}}}).find("unknown WanTransformer3DModel config key \"window_size\""),
            std::string::npos);
  // Image conditioning comes whole (image_dim with added_kv_proj_dim = the inner dim), as diffusers builds it.
  EXPECT_NE(error_of({{"image_dim", 1280}}).find("\"image_dim\" without \"added_kv_proj_dim\""), std::string::npos);
  EXPECT_NE(error_of({{"added_kv_proj_dim", 5120}}).find("without \"image_dim\""), std::string::npos);
  EXPECT_NE(error_of({{"image_dim", 1280}, {"added_kv_proj_dim", 1280}}).find("must be the inner dim"),
            std::string::npos);
  EXPECT_NE(error_of({{"pos_embed_seq_len", 514}}).find("needs \"image_dim\""), std::string::npos);
  EXPECT_NE(error_of({{"image_dim", 1280}, {"added_kv_proj_dim", 5120}, {"pos_embed_seq_len", 513}}).find("even"),
            std::string::npos);
  EXPECT_NE(error_of({{"qk_norm", "layer_norm"}}).find("qk_norm"), std::string::npos);
  EXPECT_NE(error_of({{"num_layers", -2}}).find("\"num_layers\" must be an integer from 1 to"), std::string::npos);
  EXPECT_NE(error_of({{"patch_size", {1, 2}}}).find("three integers"), std::string::npos);
  EXPECT_NE(error_of({{"attention_head_dim", 5}}).find("even"), std::string::npos);
}

// Wan2.1-I2V-14B-480P's transformer config: the image embedder and the blocks' image keys are built.
TEST(WanConfig, ReadsTheImageToVideoKeys) {
  const WanConfig i2v = wan_config_from_json(
      {{"image_dim", 1280}, {"added_kv_proj_dim", 5120}, {"in_channels", 36}, {"out_channels", 16}});
  EXPECT_TRUE(i2v.image_conditioned());
  EXPECT_EQ(i2v.added_kv_proj_dim, 5120);
  EXPECT_EQ(i2v.pos_embed_seq_len, 0);
  EXPECT_EQ(wan_config_from_json({{"image_dim", 1280}, {"added_kv_proj_dim", 5120}, {"pos_embed_seq_len", 514}})
                .pos_embed_seq_len,
            514);  // FLF2V: 2 x 257 tokens
  EXPECT_FALSE(wan_config_from_json({{"image_dim", nullptr}}).image_conditioned());
}

// Sizes are range-checked before they are used: an absurd one is an error naming the key, not a bad_alloc, a
// wrapped int or an overflowing product later.
TEST(WanConfig, RefusesAbsurdSizesNamingTheKey) {
  std::string message = error_of({{"num_layers", 1000000000000}});
  EXPECT_NE(message.find("\"num_layers\" must be an integer from 1 to 4096, got 1000000000000"), std::string::npos)
      << message;
  message = error_of({{"ffn_dim", 18446744073709551615u}});
  EXPECT_NE(message.find("\"ffn_dim\" must be an integer from 1 to 1048576"), std::string::npos) << message;
  message = error_of({{"text_dim", -4096}});
  EXPECT_NE(message.find("\"text_dim\" must be an integer from 1"), std::string::npos) << message;
  message = error_of({{"num_layers", 2.5}});
  EXPECT_NE(message.find("\"num_layers\" must be an integer"), std::string::npos) << message;
  // Each within bounds, their product (the model's width) not: 2^32 x 2^32 would wrap to 0 in 64 bits.
  message = error_of({{"num_attention_heads", 4294967296}, {"attention_head_dim", 4294967296}});
  EXPECT_NE(message.find("must be an integer from 1 to 1048576"), std::string::npos) << message;
  message = error_of({{"num_attention_heads", 65536}, {"attention_head_dim", 65536}});
  EXPECT_NE(message.find("\"num_attention_heads\" x \"attention_head_dim\" = 4294967296 is more than 1048576"),
            std::string::npos)
      << message;
  // Python's json writes integral floats as 40.0: those are integers.
  EXPECT_EQ(wan_config_from_json({{"num_layers", 40.0}}).num_layers, 40);
}

// A Wan transformer small enough to build in a test.
WanConfig small_wan_config(int64_t layers) {
  WanConfig config;
  config.num_attention_heads = 2;
  config.attention_head_dim = 12;
  config.in_channels = config.out_channels = 4;
  config.text_dim = 16;
  config.freq_dim = 8;
  config.ffn_dim = 32;
  config.num_layers = layers;
  return config;
}

TEST(WanModel, ParameterNamesAreDiffusers) {
  WanTransformer3DModel model(small_wan_config(1));
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters(true)) names.push_back(item.key());
  for (const char* expected :
       {"patch_embedding.weight", "condition_embedder.time_embedder.linear_1.weight",
        "condition_embedder.time_proj.bias", "condition_embedder.text_embedder.linear_2.weight",
        "blocks.0.attn1.to_q.weight", "blocks.0.attn1.norm_q.weight", "blocks.0.attn1.to_out.0.weight",
        "blocks.0.attn2.norm_k.weight", "blocks.0.norm2.weight", "blocks.0.ffn.net.0.proj.weight",
        "blocks.0.ffn.net.2.bias", "blocks.0.scale_shift_table", "proj_out.weight", "scale_shift_table"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_EQ(names.size(), 42u);  // diffusers' state_dict of this config has 42 tensors
  ASSERT_NE(model.find("blocks.0.attn1"), nullptr);
  ASSERT_NE(model.find("proj_out"), nullptr);
  ASSERT_NE(model.find("rope"), nullptr);
  EXPECT_TRUE(model.metadata().supports("cache"));
  EXPECT_TRUE(model.metadata().supports("cp_plan"));
}

// set_dtype casts every floating parameter by parameter_dtype: bf16, except what diffusers keeps in fp32 (the time
// embedder, the modulation tables, the norms), which stays fp32 with its values unchanged.
TEST(WanModel, SetDtypeKeepsTheFp32Modules) {
  WanConfig config = small_wan_config(2);
  config.cross_attn_norm = true;
  WanTransformer3DModel model(config);
  const at::Tensor table_before = model.named_parameters(true)["scale_shift_table"].clone();
  model.set_dtype(at::kBFloat16);
  int kept = 0, cast = 0;
  for (const auto& item : model.named_parameters(true)) {
    const auto expected = model.parameter_dtype(item.key(), at::kBFloat16);
    EXPECT_EQ(item.value().scalar_type(), expected) << item.key();
    (expected == at::kFloat ? kept : cast) += 1;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(cast, 0);
  EXPECT_EQ(model.named_parameters(true)["blocks.0.attn1.to_q.weight"].scalar_type(), at::kBFloat16);
  EXPECT_EQ(model.named_parameters(true)["blocks.1.norm2.weight"].scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(model.named_parameters(true)["scale_shift_table"], table_before));
}

}  // namespace
}  // namespace tessera
