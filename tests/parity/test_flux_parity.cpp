// FLUX.1 (FluxTransformer2DModel) against diffusers, module by module and end to end, on the fixtures that
// scripts/make_fixtures.py (part "flux") builds with the pinned diffusers: with and without the guidance embedding.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "common/check.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"

namespace tessera::testing {
namespace {

const std::string kFluxFixtures = std::string(TESSERA_FIXTURES_DIR) + "/flux/";

class FluxParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = kFluxFixtures + GetParam();
    model_ = load_model(dir_, at::kFloat, c10::Device(c10::kCPU));
  }
  at::Tensor input(const std::string& name) const { return io::SafetensorsFile(dir_ + "/inputs.safetensors").load(name); }
  bool has_input(const std::string& name) const {
    const auto names = io::SafetensorsFile(dir_ + "/inputs.safetensors").names();
    return std::find(names.begin(), names.end(), name) != names.end();
  }
  at::Tensor expected(const std::string& name) const {
    return io::SafetensorsFile(dir_ + "/expected.safetensors").load(name);
  }
  Args model_inputs() const {
    Args args;
    for (const char* name : {"hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "img_ids",
                             "txt_ids", "guidance"}) {
      if (has_input(name)) args.set(name, input(name));
    }
    return args;
  }
  Args block_inputs(const std::string& prefix) const {
    return {{"hidden_states", expected(prefix + "_hidden_states")},
            {"encoder_hidden_states", expected(prefix + "_encoder_hidden_states")},
            {"temb", expected("temb")},
            {"freqs_cos", expected("rope_cos")},
            {"freqs_sin", expected("rope_sin")}};
  }
  c10::InferenceMode inference_;
  std::string dir_;
  std::shared_ptr<Model> model_;
};

TEST_P(FluxParity, RotaryEmbeddingFromPositionIds) {
  const Outputs rotary = model_->at("pos_embed")({{"ids", at::cat({input("txt_ids"), input("img_ids")}, 0)}});
  EXPECT_TRUE(close_relative_to_scale(rotary.at(0), expected("rope_cos")));
  EXPECT_TRUE(close_relative_to_scale(rotary.at(1), expected("rope_sin")));
}

TEST_P(FluxParity, TimeTextEmbedding) {
  Args args{{"timestep", input("timestep") * 1000}, {"pooled_projections", input("pooled_projections")}};
  if (has_input("guidance")) args.set("guidance", input("guidance") * 1000);
  EXPECT_TRUE(close_relative_to_scale(model_->at("time_text_embed")(args).at(0), expected("temb")));
}

TEST_P(FluxParity, FirstDoubleStreamBlockOnDiffusersInputs) {
  const Outputs output = model_->at("transformer_blocks.0")(block_inputs("block0"));
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("block0_output_encoder_hidden_states")));
  EXPECT_TRUE(close_relative_to_scale(output.at(1), expected("block0_output_hidden_states")));
}

TEST_P(FluxParity, FirstSingleStreamBlockOnDiffusersInputs) {
  const Outputs output = model_->at("single_transformer_blocks.0")(block_inputs("single0"));
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("single0_output_encoder_hidden_states")));
  EXPECT_TRUE(close_relative_to_scale(output.at(1), expected("single0_output_hidden_states")));
}

TEST_P(FluxParity, WholeModel) {
  const Outputs output = (*model_)(model_inputs());
  EXPECT_TRUE(close_relative_to_scale(output.at(0), expected("sample")));
}

// The guidance input must match how the checkpoint was built: FLUX.1-dev needs it, schnell refuses it.
TEST_P(FluxParity, GuidanceInputMustMatchTheConfig) {
  Args args = model_inputs();
  if (has_input("guidance")) {
    args.erase("guidance");
  } else {
    args.set("guidance", at::full({input("timestep").size(0)}, 3.5));
  }
  try {
    (*model_)(args);
    ADD_FAILURE() << "the forward accepted a guidance input that contradicts guidance_embeds";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("guidance_embeds"), std::string::npos) << error.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FluxParity,
                         ::testing::Values("schnell_odd_tokens", "dev_guidance", "patch2_three_heads"));

}  // namespace
}  // namespace tessera::testing
