// What WanImageToVideoPipeline conditions a video on, against diffusers on the fixtures scripts/make_fixtures.py
// (part "wan_i2v_pipeline") builds: the frame mask with the VAE latents of the clip that holds the image(s)
// ("condition", the transformer's extra input channels), and the CLIP image encoder's penultimate hidden states
// ("image_embeds"); and for Wan2.2 TI2V (part "wan22_ti2v", expand_timesteps) the image's latents alone, which
// replace the first latent frame. The generated frames are compared by the CLI tests; through a random model they barely show a
// wrong resize, crop or mask, which these tensors show plainly.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/wan/wan_image_to_video_pipeline.h"

namespace tessera::testing {
namespace {

struct I2vCase {
  std::string fixture;  // the fixtures' folder
  std::string name, folder, image;
  std::optional<std::string> last_image;
  int64_t frames = 0;
  std::optional<int64_t> height, width;  // unset: the size from the image's aspect
  int64_t expected_height = 0, expected_width = 0;
};

void PrintTo(const I2vCase& c, std::ostream* out) { *out << c.name; }

class WanI2vConditionParity : public ::testing::TestWithParam<I2vCase> {};

TEST_P(WanI2vConditionParity, ConditionAndImageEmbeddingsAsDiffusers) {
  const I2vCase& c = GetParam();
  const std::string kFixtures = std::string(TESSERA_FIXTURES_DIR) + "/" + c.fixture + "/";
  const auto pipeline = Pipeline::load(kFixtures + c.folder, at::kFloat, at::kCPU);
  auto* i2v = dynamic_cast<WanImageToVideoPipeline*>(pipeline.get());
  ASSERT_NE(i2v, nullptr);
  GenerationRequest request;
  request.prompt = "fox";
  request.image = kFixtures + c.image;
  if (c.last_image) request.last_image = kFixtures + *c.last_image;
  request.frames = c.frames;
  request.height = c.height;
  request.width = c.width;
  const Generation generation = pipeline->resolve(request);
  EXPECT_EQ(generation.height, c.expected_height);
  EXPECT_EQ(generation.width, c.expected_width);
  const auto condition = i2v->image_condition(generation);
  const io::SafetensorsFile expected(kFixtures + c.name + ".safetensors");
  const at::Tensor reference = expected.load("condition");
  ASSERT_EQ(condition.condition.sizes(), reference.sizes());
  // The mask is exact; the latents carry the VAE encoder's rounding. TI2V's condition has no mask and one frame.
  if (c.fixture == "wan22_ti2v") {
    EXPECT_EQ(reference.size(2), 1);
  } else {
    const int64_t mask_channels = reference.size(1) / 2;
    EXPECT_TRUE(at::equal(condition.condition.narrow(1, 0, mask_channels), reference.narrow(1, 0, mask_channels)));
  }
  std::cout << "[parity] " << c.name << " condition latents: " << relative_error(condition.condition, reference)
            << "\n";
  EXPECT_TRUE(close_relative_to_scale(condition.condition, reference));
  if (expected.contains("image_embeds")) {
    const at::Tensor embeds = expected.load("image_embeds");
    ASSERT_TRUE(condition.image_embeddings.defined());
    ASSERT_EQ(condition.image_embeddings.sizes(), embeds.sizes());
    std::cout << "[parity] " << c.name << " image embeddings: " << relative_error(condition.image_embeddings, embeds)
              << "\n";
    EXPECT_TRUE(close_relative_to_scale(condition.image_embeddings, embeds));
  } else {
    EXPECT_FALSE(condition.image_embeddings.defined()) << "Wan2.2 I2V's transformer takes no image embeddings";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, WanI2vConditionParity,
    ::testing::Values(
        I2vCase{.fixture = "wan_i2v_pipeline", .name = "image_to_video", .folder = "pipeline", .image = "first.png",
                .last_image = std::nullopt, .frames = 9, .height = 48, .width = 64, .expected_height = 48,
                .expected_width = 64},
        I2vCase{.fixture = "wan_i2v_pipeline", .name = "default_size", .folder = "pipeline", .image = "tall.png",
                .last_image = std::nullopt, .frames = 5, .height = std::nullopt, .width = std::nullopt,
                .expected_height = 80, .expected_width = 32},
        I2vCase{.fixture = "wan_i2v_pipeline", .name = "first_last_frame", .folder = "flf_pipeline",
                .image = "first.png", .last_image = "last.jpg", .frames = 9, .height = 32, .width = 48,
                .expected_height = 32, .expected_width = 48},
        I2vCase{.fixture = "wan_i2v_pipeline", .name = "wan22_two_experts", .folder = "wan22_pipeline",
                .image = "last.jpg", .last_image = "first.png", .frames = 9, .height = 48, .width = 48,
                .expected_height = 48, .expected_width = 48},
        I2vCase{.fixture = "wan22_ti2v", .name = "image_to_video", .folder = "image_to_video", .image = "first.png",
                .last_image = std::nullopt, .frames = 9, .height = 96, .width = 64, .expected_height = 96,
                .expected_width = 64}),
    [](const ::testing::TestParamInfo<I2vCase>& info) { return info.param.fixture + "_" + info.param.name; });

}  // namespace
}  // namespace tessera::testing
