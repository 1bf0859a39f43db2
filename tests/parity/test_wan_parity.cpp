// Wan2.1 against diffusers, module by module and end to end, on the fixtures that
// scripts/make_fixtures.py (part "wan") builds with the pinned diffusers.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "tests/unit/error_message.h"

namespace tessera::testing {
namespace {

const std::string kWanFixtures = std::string(TESSERA_FIXTURES_DIR) + "/wan/";

class WanParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = kWanFixtures + GetParam();
    model_ = load_model(dir_, at::kFloat, c10::Device(c10::kCPU));
  }
  at::Tensor input(const std::string& name) const { return io::SafetensorsFile(dir_ + "/inputs.safetensors").load(name); }
  at::Tensor expected(const std::string& name) const {
    return io::SafetensorsFile(dir_ + "/expected.safetensors").load(name);
  }
  c10::InferenceMode inference_;
  std::string dir_;
  std::shared_ptr<Model> model_;
};

TEST_P(WanParity, RotaryEmbedding) {
  const Outputs rotary = model_->at("rope")({{"hidden_states", input("hidden_states")}});
  EXPECT_TRUE(close_relative_to_scale(rotary.at(0), expected("rope_cos")));
  EXPECT_TRUE(close_relative_to_scale(rotary.at(1), expected("rope_sin")));
}

TEST_P(WanParity, FirstBlockOnDiffusersInputs) {
  const Outputs output = model_->at("blocks.0")({{"hidden_states", expected("block0_hidden_states")},
                                                 {"encoder_hidden_states", expected("block0_encoder_hidden_states")},
                                                 {"temb", expected("block0_temb")},
                                                 {"freqs_cos", expected("rope_cos")},
                                                 {"freqs_sin", expected("rope_sin")}});
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("block0_output")));
}

TEST_P(WanParity, WholeModel) {
  const Outputs output = (*model_)({{"hidden_states", input("hidden_states")},
                                    {"timestep", input("timestep")},
                                    {"encoder_hidden_states", input("encoder_hidden_states")}});
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("sample")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WanParity,
                         ::testing::Values("odd_tokens", "uneven_rope", "temporal_patch", "per_token_timestep"));

// Image-conditioned Wan (scripts/fixtures/wan_i2v.py): the image embedder, the blocks' image keys and values, and
// FLF2V's position embedding over the first and last frame.
class WanImageParity : public WanParity {
 protected:
  void SetUp() override {
    dir_ = std::string(TESSERA_FIXTURES_DIR) + "/wan_i2v/" + GetParam();
    model_ = load_model(dir_, at::kFloat, c10::Device(c10::kCPU));
  }
};

TEST_P(WanImageParity, FirstBlockOnDiffusersInputs) {
  // diffusers hands its block [image tokens, text tokens] in one tensor and splits them off again in attn2.
  const at::Tensor conditioning = expected("block0_encoder_hidden_states");
  const int64_t text_tokens = input("encoder_hidden_states").size(1);
  const int64_t image_tokens = conditioning.size(1) - text_tokens;
  const Outputs rotary = model_->at("rope")({{"hidden_states", input("hidden_states")}});
  const Outputs output =
      model_->at("blocks.0")({{"hidden_states", expected("block0_hidden_states")},
                              {"encoder_hidden_states", conditioning.narrow(1, image_tokens, text_tokens)},
                              {"encoder_hidden_states_image", conditioning.narrow(1, 0, image_tokens)},
                              {"temb", expected("block0_temb")},
                              {"freqs_cos", rotary.at(0)},
                              {"freqs_sin", rotary.at(1)}});
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("block0_output")));
}

TEST_P(WanImageParity, WholeModel) {
  const Outputs output = (*model_)({{"hidden_states", input("hidden_states")},
                                    {"timestep", input("timestep")},
                                    {"encoder_hidden_states", input("encoder_hidden_states")},
                                    {"encoder_hidden_states_image", input("encoder_hidden_states_image")}});
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("sample")));
}

TEST_P(WanImageParity, RefusesAMissingOrMisshapenImage) {
  const std::string missing = message_of([&] {
    (*model_)({{"hidden_states", input("hidden_states")},
               {"timestep", input("timestep")},
               {"encoder_hidden_states", input("encoder_hidden_states")}});
  });
  EXPECT_TRUE(has(missing, "needs encoder_hidden_states_image")) << missing;
  const at::Tensor image = input("encoder_hidden_states_image");
  const std::string misshapen = message_of([&] {
    (*model_)({{"hidden_states", input("hidden_states")},
               {"timestep", input("timestep")},
               {"encoder_hidden_states", input("encoder_hidden_states")},
               {"encoder_hidden_states_image", at::cat({image, image})}});
  });
  EXPECT_FALSE(misshapen.empty());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WanImageParity, ::testing::Values("image_to_video", "first_last_frame"));

}  // namespace
}  // namespace tessera::testing
