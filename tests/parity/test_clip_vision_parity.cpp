// The image encoder of Wan2.1's image-to-video pipeline against transformers' CLIPVisionModel on the fixtures
// scripts/make_fixtures.py (part "clip_vision") builds: hidden_states[-2] (what WanImageToVideoPipeline takes),
// hidden_states[0], last_hidden_state and the pooled output, for quick_gelu and gelu, with and without the
// "vision_model." prefix transformers 4 saved; and the errors for a bad folder or a wrongly sized image.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>

#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/clip/clip_vision_model.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera::testing {
namespace {

const std::string kFixtures = std::string(TESSERA_FIXTURES_DIR) + "/clip_vision/";

at::Tensor expected(const std::string& name) {
  return io::SafetensorsFile(kFixtures + "expected.safetensors").load(name);
}

void expect_close(const std::string& what, const at::Tensor& actual, const at::Tensor& reference) {
  std::cout << "[parity] " << what << ": max abs error relative to max abs " << relative_error(actual, reference)
            << "\n";
  EXPECT_TRUE(close_relative_to_scale(actual, reference)) << what;
}

class ClipVisionModelParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ClipVisionModelParity, HiddenStatesAsTransformers) {
  c10::InferenceMode inference;
  const std::string c = GetParam();
  const auto model = load_clip_vision_model(kFixtures + c, at::kFloat, at::kCPU);
  EXPECT_EQ(model->config().hidden_act, c == "gelu" ? ClipActivation::kGelu : ClipActivation::kQuickGelu);
  EXPECT_EQ(model->config().num_positions(), 26);
  const at::Tensor pixels = expected("pixel_values");
  const at::Tensor penultimate = model->penultimate_hidden_state(pixels);
  EXPECT_EQ(penultimate.sizes(), (std::vector<int64_t>{2, 26, 24}));
  expect_close(c + " hidden_states[-2]", penultimate, expected(c + "_penultimate_hidden_states"));
  expect_close(c + " hidden_states[0]", model->hidden_state(pixels, 0), expected(c + "_embeddings"));
  const ClipVisionOutput output = model->forward(pixels);
  expect_close(c + " last_hidden_state", output.last_hidden_state, expected(c + "_last_hidden_state"));
  expect_close(c + " pooled", output.pooled, expected(c + "_pooled"));
  // hidden_states[2] of 3 layers is [-2], and the last layer changes it (a model running every layer fails).
  EXPECT_TRUE(at::equal(model->hidden_state(pixels, 2), penultimate));
  EXPECT_FALSE(close_relative_to_scale(output.last_hidden_state, expected(c + "_penultimate_hidden_states"), 1e-2));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ClipVisionModelParity, ::testing::Values("quick_gelu", "gelu"));

TEST(ClipVisionModelNames, AreTheCheckpointsNamesWithAndWithoutPrefix) {
  for (const std::string c : {"quick_gelu", "gelu"}) {
    const ClipVisionConfig config = load_clip_vision_model(kFixtures + c, at::kFloat, at::kCPU)->config();
    const bool prefixed = c == "gelu";  // the fixture stores this case as transformers 4 did
    const io::SafetensorsFile file(kFixtures + c + "/model.safetensors");
    std::vector<std::string> checkpoint_names = file.names(), model_names;
    std::sort(checkpoint_names.begin(), checkpoint_names.end());
    for (const auto& item : ClipVisionModel(config, prefixed).named_parameters()) model_names.push_back(item.key());
    std::sort(model_names.begin(), model_names.end());
    EXPECT_EQ(model_names, checkpoint_names) << c;
    const std::string prefix = prefixed ? "vision_model." : "";
    for (const std::string name : {"embeddings.class_embedding", "pre_layrnorm.weight", "post_layernorm.bias",
                                   "encoder.layers.2.self_attn.out_proj.bias"}) {
      EXPECT_TRUE(std::find(model_names.begin(), model_names.end(), prefix + name) != model_names.end()) << name;
    }
  }
}

TEST(ClipVisionModelErrors, WrongImageSizeNamesTheExpectedSize) {
  c10::InferenceMode inference;
  const auto model = load_clip_vision_model(kFixtures + "quick_gelu", at::kFloat, at::kCPU);
  const std::string wrong_height = message_of([&] { model->penultimate_hidden_state(at::zeros({1, 3, 24, 30})); });
  EXPECT_TRUE(has(wrong_height, "CLIP vision input of 24x30 pixels; the image encoder takes 30x30")) << wrong_height;
  const std::string larger = message_of([&] { model->forward(at::zeros({1, 3, 36, 36})); });
  EXPECT_TRUE(has(larger, "takes 30x30 (\"image_size\")")) << larger;
  EXPECT_TRUE(has(message_of([&] { model->forward(at::zeros({1, 4, 30, 30})); }), "have 4 channels"));
  EXPECT_TRUE(has(message_of([&] { model->forward(at::zeros({3, 30, 30})); }), "[batch, channels, height, width]"));
  EXPECT_TRUE(has(message_of([&] { model->hidden_state(at::zeros({1, 3, 30, 30}), 4); }), "use 0 to 3 or -1 to -4"));
}

// A copy of a fixture folder with its config.json edited by `edit`.
std::string load_error(const std::function<void(nlohmann::json&)>& edit, ScratchDir& scratch) {
  const std::string source = kFixtures + "quick_gelu";
  std::ifstream file(source + "/config.json");
  nlohmann::json config = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(file), {}));
  edit(config);
  std::ofstream(scratch.file("config.json")) << config.dump(1);
  std::ofstream(scratch.file("model.safetensors"), std::ios::binary)
      << std::ifstream(source + "/model.safetensors", std::ios::binary).rdbuf();
  return message_of([&] { load_clip_vision_model(scratch.path(), at::kFloat, at::kCPU); });
}

TEST(ClipVisionModelErrors, BadConfigNamesTheKeyAndFile) {
  ScratchDir scratch("clip_vision_config");
  const std::string origin = scratch.file("config.json");
  const std::string text_model = load_error([](nlohmann::json& c) { c["model_type"] = "clip_text_model"; }, scratch);
  EXPECT_TRUE(has(text_model, "CLIP vision config " + origin + " has \"model_type\" \"clip_text_model\"")) << text_model;
  const std::string missing = load_error([](nlohmann::json& c) { c.erase("num_hidden_layers"); }, scratch);
  EXPECT_TRUE(has(missing, origin + " lacks \"num_hidden_layers\"")) << missing;
  // A size that disagrees with the weights: the loader names the tensor.
  const std::string patch = load_error([](nlohmann::json& c) { c["patch_size"] = 5; }, scratch);
  EXPECT_TRUE(has(patch, "embeddings.patch_embedding.weight")) << patch;
}

}  // namespace
}  // namespace tessera::testing
