// The Wan 2.1 VAE against diffusers' AutoencoderKLWan on the fixtures scripts/make_fixtures.py (part "wan_vae")
// builds: the decode WanPipeline runs (de-normalise, decode, clamp) on 1, 2 and 3 latent frames (1, 5 and 9
// frames), and the encoder's posterior mean; plus the errors a bad config or bad latents give.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

#include "common/check.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/wan_vae/autoencoder_kl_wan.h"
#include "src/models/wan_vae/wan_vae_config.h"
#include "src/models/wan_vae/wan_vae_decoder.h"

namespace tessera::testing {
namespace {

const std::string kFixtures = std::string(TESSERA_FIXTURES_DIR) + "/wan_vae/";

std::unique_ptr<WanVaeDecoder> load_case(const std::string& name) {
  return WanVaeDecoder::load(kFixtures + name + "/vae", at::kFloat, c10::Device(c10::kCPU));
}

struct Case {
  std::string name;
  int64_t frames;  // latent frames to decode; pixel frames to encode
};
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name + "_" + std::to_string(info.param.frames);
}

class WanVaeDecodeParity : public ::testing::TestWithParam<Case> {};

TEST_P(WanVaeDecodeParity, MatchesWanPipelineDecode) {
  c10::InferenceMode inference;
  const Case c = GetParam();
  auto decoder = load_case(c.name);
  io::SafetensorsFile file(kFixtures + c.name + "/decode.safetensors");
  const at::Tensor latents = file.load("latents_f" + std::to_string(c.frames));
  const at::Tensor expected = file.load("video_f" + std::to_string(c.frames));
  const at::Tensor pixels = decoder->decode(latents);
  std::cout << "[parity] decode " << c.name << " latent frames " << c.frames << " " << pixels.sizes()
            << ": relative max-abs error " << relative_error(pixels, expected) << "\n";
  EXPECT_TRUE(close_relative_to_scale(pixels, expected));
  EXPECT_EQ(pixels.size(2), (c.frames - 1) * 4 / (c.name == "base" ? 1 : 2) + 1);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WanVaeDecodeParity,
                         ::testing::Values(Case{"base", 1}, Case{"base", 2}, Case{"base", 3}, Case{"variant", 3}),
                         case_name);

class WanVaeEncodeParity : public ::testing::TestWithParam<Case> {};

TEST_P(WanVaeEncodeParity, PosteriorMeanMatchesDiffusers) {
  c10::InferenceMode inference;
  const Case c = GetParam();
  auto decoder = load_case(c.name);
  io::SafetensorsFile file(kFixtures + c.name + "/encode.safetensors");
  const at::Tensor mean = decoder->model().encode_mean(file.load("video_f" + std::to_string(c.frames)));
  const at::Tensor expected = file.load("mean_f" + std::to_string(c.frames));
  std::cout << "[parity] encode " << c.name << " frames " << c.frames << " " << mean.sizes()
            << ": relative max-abs error " << relative_error(mean, expected) << "\n";
  EXPECT_TRUE(close_relative_to_scale(mean, expected));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WanVaeEncodeParity,
                         ::testing::Values(Case{"base", 1}, Case{"base", 5}, Case{"base", 9}, Case{"variant", 5}),
                         case_name);

TEST(WanVaeDecoder, ScalesFollowTheConfig) {
  auto decoder = load_case("base");
  EXPECT_EQ(decoder->class_name(), "AutoencoderKLWan");
  EXPECT_EQ(decoder->latent_channels(), 4);
  EXPECT_EQ(decoder->spatial_scale(), 8);
  EXPECT_EQ(decoder->latent_frames(81), 21);
  EXPECT_EQ(decoder->latent_frames(1), 1);
  // Every parameter got real memory from the checkpoint (they were built on the meta device).
  for (const auto& parameter : decoder->model().parameters()) EXPECT_FALSE(parameter.is_meta());
}

TEST(WanVaeDecoder, DecodeToFramesIsTheRoundedDecode) {
  auto decoder = load_case("base");
  const at::Tensor latents = io::SafetensorsFile(kFixtures + "base/decode.safetensors").load("latents_f2");
  const at::Tensor frames = decoder->decode_to_frames(latents, nullptr);
  const at::Tensor pixels = decoder->decode(latents);
  ASSERT_EQ(frames.scalar_type(), at::kByte);
  ASSERT_EQ(frames.sizes(), (std::vector<int64_t>{1, 5, 40, 24, 3}));
  const at::Tensor expected = ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(at::kByte).permute({0, 2, 3, 4, 1});
  EXPECT_TRUE(at::equal(frames, expected));
}

// --- errors -----------------------------------------------------------------------------------------------

nlohmann::json base_config() {
  std::ifstream stream(kFixtures + "base/vae/config.json");
  return nlohmann::json::parse(stream);
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

std::string config_error(const nlohmann::json& config) {
  try {
    wan_vae_config_from_json(config, "vae/config.json");
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(WanVaeConfig, ReadsTheFixtureConfig) {
  const WanVaeConfig config = wan_vae_config_from_json(base_config(), "vae/config.json");
  EXPECT_EQ(config.base_dim, 4);
  EXPECT_EQ(config.z_dim, 4);
  EXPECT_EQ(config.dim_mult, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(config.temperal_downsample, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(config.spatial_scale(), 8);
  EXPECT_EQ(config.temporal_scale(), 4);
}

TEST(WanVaeConfig, BadConfigsNameTheKeyAndTheFix) {
  nlohmann::json config = base_config();
  config["is_residual"] = 1;
  EXPECT_TRUE(contains(config_error(config), "\"is_residual\" must be true or false"));

  config = base_config();
  config.erase("z_dim");
  EXPECT_TRUE(contains(config_error(config), "vae/config.json lacks \"z_dim\""));

  config = base_config();
  config["dim_mult"] = "1,2,4,4";
  EXPECT_TRUE(contains(config_error(config), "\"dim_mult\" must be a list"));

  config = base_config();
  config["num_res_blocks"] = 2.5;
  EXPECT_TRUE(contains(config_error(config), "\"num_res_blocks\""));

  config = base_config();
  config["latents_std"] = {1.0, 2.0};
  EXPECT_TRUE(contains(config_error(config), "\"latents_std\" must have z_dim = 4 entries, got 2"));

  config = base_config();
  config["patch_size"] = 2;  // 3 pixel channels do not fold into 2 x 2 patches
  EXPECT_TRUE(contains(config_error(config), "\"in_channels\" = 3 is not a multiple of patch_size^2 = 4"));

  config = base_config();
  config["temperal_downsample"] = {true, true};
  EXPECT_TRUE(contains(config_error(config), "one entry per level but the last (3), got 2"));

  config = base_config();
  config["clip_output"] = true;
  EXPECT_TRUE(contains(config_error(config), "unknown AutoencoderKLWan config key \"clip_output\""));
}

TEST(WanVaeDecoder, WrongShapedLatentsNameTheExpectedShape) {
  auto decoder = load_case("base");
  try {
    decoder->decode(at::zeros({1, 16, 2, 5, 3}));
    FAIL() << "16-channel latents decoded by a z_dim 4 VAE";
  } catch (const Error& error) {
    EXPECT_TRUE(contains(error.what(), "the Wan VAE decodes latents [batch, z_dim = 4, frames, height, "
                                                   "width], got [1, 16, 2, 5, 3]"));
  }
  EXPECT_THROW(decoder->decode(at::zeros({4, 2, 5, 3})), Error);
}

}  // namespace
}  // namespace tessera::testing
