// The Wan2.2 VAE (AutoencoderKLWan with is_residual and patch_size 2, the layout of Wan2.2 TI2V-5B) against
// diffusers on the fixture scripts/make_fixtures.py (part "wan22_vae") builds: the decode WanPipeline runs on 1
// and 3 latent frames (1 and 9 frames), the posterior mean of 1 and 9 frames, and the layouts refused. (In fp64,
// with diffusers' fp32 round trip around its upsample taken out, the decode agrees to 1e-14: the fp32 differences
// are rounding.)
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

const std::string kFixture = std::string(TESSERA_FIXTURES_DIR) + "/wan22_vae/ti2v/";

std::unique_ptr<WanVaeDecoder> load_vae() {
  return WanVaeDecoder::load(kFixture + "vae", at::kFloat, c10::Device(c10::kCPU));
}

std::string frames_name(const ::testing::TestParamInfo<int64_t>& info) { return "f" + std::to_string(info.param); }

class Wan22VaeDecodeParity : public ::testing::TestWithParam<int64_t> {};

TEST_P(Wan22VaeDecodeParity, MatchesWanPipelineDecode) {
  c10::InferenceMode inference;
  const int64_t frames = GetParam();
  auto decoder = load_vae();
  io::SafetensorsFile file(kFixture + "decode.safetensors");
  const at::Tensor latents = file.load("latents_f" + std::to_string(frames));
  const at::Tensor expected = file.load("video_f" + std::to_string(frames));
  const at::Tensor pixels = decoder->decode(latents);
  std::cout << "[parity] wan2.2 vae decode, latent frames " << frames << " " << pixels.sizes()
            << ": relative max-abs error " << relative_error(pixels, expected) << "\n";
  EXPECT_TRUE(close_relative_to_scale(pixels, expected));
  EXPECT_EQ(pixels.sizes(), (std::vector<int64_t>{1, 3, (frames - 1) * 4 + 1, 48, 32}));
}

INSTANTIATE_TEST_SUITE_P(Fixture, Wan22VaeDecodeParity, ::testing::Values(1, 3), frames_name);

class Wan22VaeEncodeParity : public ::testing::TestWithParam<int64_t> {};

TEST_P(Wan22VaeEncodeParity, PosteriorMeanMatchesDiffusers) {
  c10::InferenceMode inference;
  const int64_t frames = GetParam();
  auto decoder = load_vae();
  io::SafetensorsFile file(kFixture + "encode.safetensors");
  const at::Tensor mean = decoder->model().encode_mean(file.load("video_f" + std::to_string(frames)));
  const at::Tensor expected = file.load("mean_f" + std::to_string(frames));
  std::cout << "[parity] wan2.2 vae encode, frames " << frames << " " << mean.sizes()
            << ": relative max-abs error " << relative_error(mean, expected) << "\n";
  EXPECT_TRUE(close_relative_to_scale(mean, expected));
}

INSTANTIATE_TEST_SUITE_P(Fixture, Wan22VaeEncodeParity, ::testing::Values(1, 9), frames_name);

TEST(Wan22VaeDecoder, ScalesFollowTheConfig) {
  auto decoder = load_vae();
  EXPECT_EQ(decoder->latent_channels(), 12);
  EXPECT_EQ(decoder->spatial_scale(), 16);  // three 2x levels and 2x2 patches
  EXPECT_EQ(decoder->temporal_scale(), 4);
  EXPECT_EQ(decoder->latent_frames(121), 31);
  EXPECT_EQ(decoder->band_rows(3, 2), (std::vector<int64_t>{32, 16}));
  for (const auto& parameter : decoder->model().parameters()) EXPECT_FALSE(parameter.is_meta());
}

TEST(Wan22VaeDecoder, EncodeNamesTheVideoShape) {
  auto decoder = load_vae();
  try {
    decoder->model().encode_mean(at::zeros({1, 12, 1, 48, 32}));  // already patchified: the caller's mistake
    FAIL() << "a 12-channel video encoded";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("video must be [B, channels = 3, frames, height, width]"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(decoder->model().encode_mean(at::zeros({1, 3, 1, 40, 32})), Error);  // 40 rows: not a multiple of 16
}

// --- config -----------------------------------------------------------------------------------------------

nlohmann::json ti2v_config() {
  std::ifstream stream(kFixture + "vae/config.json");
  return nlohmann::json::parse(stream);
}

std::string config_error(const nlohmann::json& config) {
  try {
    wan_vae_config_from_json(config, "vae/config.json");
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

TEST(Wan22VaeConfig, ReadsTheFixtureConfig) {
  const WanVaeConfig config = wan_vae_config_from_json(ti2v_config(), "vae/config.json");
  EXPECT_TRUE(config.is_residual);
  EXPECT_EQ(config.patch_size, 2);
  EXPECT_EQ(config.base_dim, 2);
  EXPECT_EQ(config.decoder_base_dim, 4);
  EXPECT_EQ(config.in_channels, 12);
  EXPECT_EQ(config.video_in_channels(), 3);
  EXPECT_EQ(config.video_out_channels(), 3);
  EXPECT_EQ(config.spatial_scale(), 16);
  EXPECT_EQ(config.temporal_scale(), 4);

  nlohmann::json unpatched = ti2v_config();  // patch_size null: no folding, as diffusers
  unpatched["patch_size"] = nullptr;
  unpatched["in_channels"] = 3;
  unpatched["out_channels"] = 3;
  unpatched["scale_factor_spatial"] = 8;
  EXPECT_EQ(wan_vae_config_from_json(unpatched, "vae/config.json").spatial_scale(), 8);
}

TEST(Wan22VaeConfig, LayoutsDiffusersWouldNotBuildAreRefused) {
  nlohmann::json config = ti2v_config();
  config["dim_mult"] = {1, 2, 2, 4};  // the last level grows: diffusers' AvgDown3D refuses 4 -> 8 channels
  EXPECT_TRUE(contains(config_error(config), "the last encoder level (is_residual) averages 4 channels into 8"));

  config = ti2v_config();
  // The encoder's 2 -> 16 channels average 8 samples (a temporal level); the decoder's 32 -> 4 upsample only in
  // space, and 4 channels x 4 samples are not a repeat of 32 (diffusers' DupUp3D asserts).
  config["dim_mult"] = {1, 1, 8, 8};
  EXPECT_TRUE(contains(config_error(config), "decoder level 2 (is_residual) duplicates 32 channels into 4"));

  config = ti2v_config();
  config["base_dim"] = 3;
  config["dim_mult"] = {1, 3, 4, 4};  // encoder level 1: 3 channels x 8 samples into 9 does not divide
  EXPECT_TRUE(contains(config_error(config), "encoder level 1 (is_residual) averages 3 channels x 8 samples into 9"));

  config = ti2v_config();
  config["in_channels"] = 3;
  EXPECT_TRUE(contains(config_error(config), "\"in_channels\" = 3 is not a multiple of patch_size^2 = 4"));

  config = ti2v_config();
  config["patch_size"] = 0;
  EXPECT_TRUE(contains(config_error(config), "\"patch_size\""));

  config = ti2v_config();
  config["patch_size"] = "2";
  EXPECT_TRUE(contains(config_error(config), "\"patch_size\""));

  config = ti2v_config();
  config["is_residual"] = "true";
  EXPECT_TRUE(contains(config_error(config), "\"is_residual\" must be true or false"));

  config = ti2v_config();
  config["scale_factor_spatial"] = 8;
  EXPECT_TRUE(contains(config_error(config), "patch_size is 2, a scale of 16"));
}

}  // namespace
}  // namespace tessera::testing
