// LoRAs applied by hooks on the linear layers (lora_hooks.h) against the same LoRAs fused into the weights, on the
// transformers of the tiny Wan and FLUX pipelines with the committed LoRA fixtures: the outputs agree to fp32
// rounding, removing the hooks gives the base output back bit for bit, and a LoRA that does not fit registers
// nothing.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "src/models/load_model.h"
#include "src/models/lora/lora_fuse.h"
#include "src/models/lora/lora_hooks.h"
#include "src/models/model.h"
#include "tests/relative_error.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

using testing::relative_error;

const std::string kFixtures = TESSERA_TEST_FIXTURES_DIR;

at::Tensor random(std::vector<int64_t> sizes, at::Generator& generator) { return at::randn(sizes, generator); }

// Inputs of the tiny pipelines' transformers (their config.json): Wan 4 latent channels and 32-wide text, 2 x 8 x 8
// latents (32 tokens); FLUX 16 packed channels, 16-wide text and pooled projection, 24 image and 5 text tokens.
Args wan_inputs() {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(3);
  return Args{{"hidden_states", random({1, 4, 2, 8, 8}, generator)},
              {"timestep", at::full({1}, 700.0)},
              {"encoder_hidden_states", random({1, 7, 32}, generator)}};
}

Args flux_inputs() {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(4);
  at::Tensor img_ids = at::zeros({24, 3});
  img_ids.select(1, 1).copy_(at::arange(24).floor_divide(6));
  img_ids.select(1, 2).copy_(at::arange(24).remainder(6));
  return Args{{"hidden_states", random({1, 24, 16}, generator)},
              {"encoder_hidden_states", random({1, 5, 16}, generator)},
              {"pooled_projections", random({1, 16}, generator)},
              {"timestep", at::full({1}, 0.6)},
              {"img_ids", img_ids},
              {"txt_ids", at::zeros({5, 3})},
              {"guidance", at::full({1}, 3.5)}};
}

struct Case {
  const char* name;
  const char* family;  // wan or flux
  std::vector<lora::LoraSpec> loras;
};

std::vector<Case> cases() {
  const std::string dir = kFixtures + "/lora/";
  return {{"wan_peft", "wan", {{dir + "wan_peft.safetensors", 0.7}}},
          {"wan_original", "wan", {{dir + "wan_original.safetensors", 1.3}}},
          {"wan_both", "wan", {{dir + "wan_peft.safetensors", 0.7}, {dir + "wan_original.safetensors", -0.5}}},
          {"flux_peft_alpha", "flux", {{dir + "flux_peft_alpha.safetensors", 0.8}}},
          {"flux_both", "flux", {{dir + "flux_peft_alpha.safetensors", 0.8}, {dir + "flux_peft.safetensors", 1.0}}},
          {"flux_kohya", "flux", {{dir + "flux_kohya.safetensors", 0.9}}}};
}

class LoraHooks : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const std::string family = GetParam().family;
    model_ = load_model(kFixtures + "/" + family + "_pipeline/pipeline/transformer", at::kFloat, at::kCPU);
    inputs_ = family == "wan" ? wan_inputs() : flux_inputs();
  }
  at::Tensor run() { return (*model_)(inputs_).at(0); }

  std::shared_ptr<Model> model_;
  Args inputs_;
};

TEST_P(LoraHooks, EqualFusedAndUnhookRestoresTheBase) {
  c10::InferenceMode inference;
  const auto loras = lora::read_loras(GetParam().loras);
  const at::Tensor base = run();

  lora::hook_loras(*model_, loras, model_->class_name());
  const at::Tensor hooked = run();
  EXPECT_GT(lora::unhook_loras(*model_), 0u);
  const at::Tensor unhooked = run();

  lora::SavedWeights saved;
  lora::fuse_loras(*model_, loras, model_->class_name(), &saved);
  const at::Tensor fused = run();
  lora::restore_weights(*model_, saved);

  // The LoRA moves the output far beyond the bound, so agreeing within it says the hooks apply it.
  EXPECT_GT(relative_error(fused, base), 1e-2) << "the LoRA hardly changes the output; the test would not see it";
  EXPECT_LT(relative_error(hooked, fused), 1e-5) << GetParam().name;
  EXPECT_TRUE(at::equal(unhooked, base)) << "max difference " << (unhooked - base).abs().max().item<double>();
  // Hooks again after the fuse was undone: the same output as the first time, exactly.
  lora::hook_loras(*model_, loras, model_->class_name());
  EXPECT_TRUE(at::equal(run(), hooked));
  lora::unhook_loras(*model_);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LoraHooks, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(LoraHooksErrors, RefusedLoraRegistersNothingAndTwiceIsRefused) {
  c10::InferenceMode inference;
  auto model = load_model(kFixtures + "/wan_pipeline/pipeline/transformer", at::kFloat, at::kCPU);
  const std::string dir = kFixtures + "/lora/";
  const Args inputs = wan_inputs();
  const at::Tensor base = (*model)(inputs).at(0);
  // One good file and one of the wrong shape: the one error of check_loras, and no layer hooked.
  const auto refused = lora::read_loras({{dir + "wan_peft.safetensors", 1.0}, {dir + "wan_wrong_shape.safetensors", 1.0}});
  const std::string message = message_of([&] { lora::hook_loras(*model, refused, model->class_name()); });
  EXPECT_NE(message.find("nothing was applied"), std::string::npos) << message;
  EXPECT_NE(message.find("but the weight is [24, 40]"), std::string::npos) << message;
  EXPECT_EQ(lora::unhook_loras(*model), 0u);
  EXPECT_TRUE(at::equal((*model)(inputs).at(0), base));

  const auto good = lora::read_loras({{dir + "wan_peft.safetensors", 1.0}});
  lora::hook_loras(*model, good, model->class_name());
  const std::string twice = message_of([&] { lora::hook_loras(*model, good, model->class_name()); });
  EXPECT_NE(twice.find("has LoRA hooks already"), std::string::npos) << twice;
}

}  // namespace
}  // namespace tessera
