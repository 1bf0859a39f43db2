// transformers' CLIPImageProcessor as WanImageToVideoPipeline calls it (issue 24): pixel_values against
// transformers on small configs and Wan2.1's, and the config errors (fixtures: scripts/fixtures/image_input.py).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "src/models/clip/clip_image_processor.h"
#include "tests/unit/error_message.h"
#include "tests/unit/image_input_fixture.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

using testing::frame_of;
using testing::image_input_cases;
using testing::image_input_dir;
using testing::image_input_expected;

TEST(ClipImageProcessor, MatchesTransformers) {
  const auto cases = image_input_cases();
  EXPECT_EQ(cases.at("processor_implementation"), "CLIPImageProcessorPil");
  double worst = 0.0;
  int compared = 0;
  for (const auto& [name, sizes] : cases.at("processors").items()) {
    const ClipImageProcessor processor = ClipImageProcessor::load(detail::concat(image_input_dir(), "/processor_", name));
    for (const auto& size : sizes) {
      const std::string key = detail::concat("processor_", name, "_", size.at(0).get<int64_t>(), "x",
                                             size.at(1).get<int64_t>());
      const at::Tensor want = image_input_expected().load(detail::concat(key, "_pixel_values"));
      const at::Tensor got = processor.preprocess(frame_of(image_input_expected().load(detail::concat(key, "_image"))));
      ASSERT_EQ(got.sizes(), want.sizes()) << key;
      EXPECT_EQ(got.scalar_type(), at::kFloat);
      EXPECT_EQ(processor.crop_height(), want.size(2));
      EXPECT_EQ(processor.crop_width(), want.size(3));
      const double difference = (got - want).abs().max().item<double>();
      std::printf("processor %-28s max |tessera - transformers| = %g\n", key.c_str(), difference);
      EXPECT_LE(difference, 1e-6) << key;
      worst = std::max(worst, difference);
      ++compared;
    }
  }
  std::printf("processor: %d cases, max |tessera - transformers| = %g\n", compared, worst);
  EXPECT_GE(compared, 10);
}

TEST(ClipImageProcessor, RefusesWhatItCannotHonour) {
  testing::ScratchDir scratch("tessera_clip_processor");
  const auto error = [&](const nlohmann::json& config) {
    std::ofstream(scratch.file("preprocessor_config.json")) << config.dump();
    return message_of([&] { ClipImageProcessor::load(scratch.path()); });
  };
  const std::string file = scratch.file("preprocessor_config.json");
  std::string message = message_of([&] { ClipImageProcessor::load(scratch.path()); });
  EXPECT_TRUE(has(message, file) && has(message, "image_processor/")) << message;
  message = error({{"resample", 4}});
  EXPECT_TRUE(has(message, file) && has(message, "\"resample\"") && has(message, "3 (bicubic)")) << message;
  message = error({{"do_center_crop", false}});
  EXPECT_TRUE(has(message, "\"do_center_crop\"") && has(message, "set it to true")) << message;
  message = error({{"size", {{"shortest_edge", 224}, {"longest_edge", 300}}}});
  EXPECT_TRUE(has(message, "\"size\"") && has(message, "longest_edge")) << message;
  message = error({{"crop_pct", 0.9}});
  EXPECT_TRUE(has(message, "\"crop_pct\"") && has(message, "not a CLIPImageProcessor setting")) << message;
  message = error({{"image_std", {0.5, 0.0, 0.5}}});
  EXPECT_TRUE(has(message, "\"image_std\"") && has(message, "positive")) << message;
  message = error({{"image_mean", {0.5, 0.5}}});
  EXPECT_TRUE(has(message, "\"image_mean\"") && has(message, "3 numbers")) << message;
  message = error({{"crop_size", {{"height", 0}, {"width", 3}}}});
  EXPECT_TRUE(has(message, "\"crop_size.height\"")) << message;
  message = error({{"image_processor_type", "SiglipImageProcessor"}});
  EXPECT_TRUE(has(message, "\"image_processor_type\"") && has(message, "CLIPImageProcessor only")) << message;
  message = error({{"do_pad", true}});
  EXPECT_TRUE(has(message, "\"do_pad\"")) << message;
  // Defaults as CLIPImageProcessor's: 224-pixel crops.
  std::ofstream(file) << "{}";
  const ClipImageProcessor defaults = ClipImageProcessor::load(scratch.path());
  EXPECT_EQ(defaults.crop_height(), 224);
  EXPECT_EQ(defaults.crop_width(), 224);
}

}  // namespace
}  // namespace tessera
