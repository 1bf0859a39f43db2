// FLUX's AutoencoderKL decoder against diffusers' AutoencoderKL on the fixtures scripts/make_fixtures.py (part
// "autoencoder_kl") builds: the decode FluxPipeline runs (latents / scaling_factor + shift_factor, then
// vae.decode) for a FLUX-like layout (shift, no post_quant_conv, batch 2) and a Stable Diffusion-like one
// (post_quant_conv, no shift); plus the errors a bad config or bad latents give.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

#include "common/check.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/autoencoder_kl/autoencoder_kl.h"
#include "src/models/autoencoder_kl/autoencoder_kl_config.h"
#include "src/models/autoencoder_kl/autoencoder_kl_decoder.h"

namespace tessera::testing {
namespace {

const std::string kFixtures = std::string(TESSERA_FIXTURES_DIR) + "/autoencoder_kl/";

std::unique_ptr<AutoencoderKlDecoder> load_case(const std::string& name) {
  return AutoencoderKlDecoder::load(kFixtures + name + "/vae", at::kFloat, c10::Device(c10::kCPU));
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

class AutoencoderKlParity : public ::testing::TestWithParam<std::string> {};

TEST_P(AutoencoderKlParity, MatchesFluxPipelineDecode) {
  c10::InferenceMode inference;
  auto decoder = load_case(GetParam());
  io::SafetensorsFile file(kFixtures + GetParam() + "/decode.safetensors");
  const at::Tensor latents = file.load("latents");  // [B, C, h, w], as the transformer leaves them
  const at::Tensor expected = file.load("image").unsqueeze(2);
  const at::Tensor pixels = decoder->decode(latents.unsqueeze(2));
  ASSERT_EQ(pixels.scalar_type(), at::kFloat);
  std::cout << "[parity] AutoencoderKL " << GetParam() << " " << pixels.sizes() << ": relative max-abs error "
            << relative_error(pixels, expected) << "\n";
  EXPECT_TRUE(close_relative_to_scale(pixels, expected));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AutoencoderKlParity, ::testing::Values("flux", "sd"));

TEST(AutoencoderKlDecoder, ScalesFollowTheConfig) {
  auto flux = load_case("flux");
  EXPECT_EQ(flux->class_name(), "AutoencoderKL");
  EXPECT_EQ(flux->latent_channels(), 4);
  EXPECT_EQ(flux->spatial_scale(), 2);
  EXPECT_EQ(flux->latent_frames(1), 1);
  EXPECT_THROW(flux->latent_frames(5), Error);
  EXPECT_EQ(flux->config().shift_factor, 0.1159);
  EXPECT_FALSE(flux->config().use_post_quant_conv);
  auto sd = load_case("sd");
  EXPECT_EQ(sd->spatial_scale(), 4);
  EXPECT_FALSE(sd->config().shift_factor.has_value());
  EXPECT_TRUE(sd->config().use_post_quant_conv);
}

TEST(AutoencoderKlDecoder, LoadsTheDecoderAloneWithRealMemory) {
  auto decoder = load_case("sd");
  bool post_quant_conv = false;
  for (const auto& item : decoder->model().named_parameters()) {
    EXPECT_FALSE(item.value().is_meta()) << item.key();
    EXPECT_TRUE(item.key().rfind("decoder.", 0) == 0 || item.key().rfind("post_quant_conv.", 0) == 0) << item.key();
    post_quant_conv = post_quant_conv || item.key().rfind("post_quant_conv.", 0) == 0;
  }
  EXPECT_TRUE(post_quant_conv);
}

TEST(AutoencoderKlDecoder, DecodeToFramesIsTheRoundedDecode) {
  auto decoder = load_case("flux");
  const at::Tensor latents = io::SafetensorsFile(kFixtures + "flux/decode.safetensors").load("latents").unsqueeze(2);
  const at::Tensor frames = decoder->decode_to_frames(latents, nullptr);
  ASSERT_EQ(frames.scalar_type(), at::kByte);
  ASSERT_EQ(frames.sizes(), (std::vector<int64_t>{2, 1, 10, 14, 3}));
  EXPECT_TRUE(at::equal(frames, pixels_to_frames(decoder->decode(latents))));
}

TEST(AutoencoderKlDecoder, WrongShapedLatentsNameTheExpectedShape) {
  auto decoder = load_case("flux");
  try {
    decoder->decode(at::zeros({1, 4, 2, 5, 3}));
    FAIL() << "two latent frames decoded by an image VAE";
  } catch (const Error& error) {
    EXPECT_TRUE(contains(error.what(), "AutoencoderKL decodes latents [batch, latent_channels = 4, 1 frame, "
                                       "height, width], got [1, 4, 2, 5, 3]"));
  }
  EXPECT_THROW(decoder->decode(at::zeros({1, 16, 1, 5, 3})), Error);
  EXPECT_THROW(decoder->decode(at::zeros({1, 4, 5, 3})), Error);
}

// --- config errors -------------------------------------------------------------------------------------------

nlohmann::json flux_config() {
  std::ifstream stream(kFixtures + "flux/vae/config.json");
  return nlohmann::json::parse(stream);
}

std::string config_error(const nlohmann::json& config) {
  try {
    autoencoder_kl_config_from_json(config, "vae/config.json");
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(AutoencoderKlConfig, ReadsTheFixtureConfig) {
  const AutoencoderKlConfig config = autoencoder_kl_config_from_json(flux_config(), "vae/config.json");
  EXPECT_EQ(config.latent_channels, 4);
  EXPECT_EQ(config.out_channels, 3);
  EXPECT_EQ(config.block_out_channels, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(config.layers_per_block, 2);
  EXPECT_EQ(config.norm_num_groups, 4);
  EXPECT_DOUBLE_EQ(config.scaling_factor, 0.3611);
  EXPECT_TRUE(config.mid_block_add_attention);
}

TEST(AutoencoderKlConfig, BadConfigsNameTheKeyAndTheFix) {
  nlohmann::json config = flux_config();
  config.erase("latent_channels");
  EXPECT_TRUE(contains(config_error(config), "vae/config.json lacks \"latent_channels\""));

  config = flux_config();
  config["block_out_channels"] = {8, 18};
  EXPECT_TRUE(contains(config_error(config), "must be a multiple of \"norm_num_groups\" = 4"));

  config = flux_config();
  config["block_out_channels"] = nlohmann::json::array();
  EXPECT_TRUE(contains(config_error(config), "\"block_out_channels\" must be a list of 1 to 16"));

  config = flux_config();
  config["up_block_types"] = {"UpDecoderBlock2D", "AttnUpDecoderBlock2D"};
  EXPECT_TRUE(contains(config_error(config), "only \"UpDecoderBlock2D\" blocks"));

  config = flux_config();
  config["up_block_types"] = {"UpDecoderBlock2D"};
  EXPECT_TRUE(contains(config_error(config), "one block type per entry of block_out_channels (2)"));

  config = flux_config();
  config["latents_mean"] = {0.0, 0.0, 0.0, 0.0};
  EXPECT_TRUE(contains(config_error(config), "\"latents_mean\" = [0.0,0.0,0.0,0.0] is not supported"));

  config = flux_config();
  config["act_fn"] = "gelu";
  EXPECT_TRUE(contains(config_error(config), "only \"silu\""));

  config = flux_config();
  config["scaling_factor"] = 0;
  EXPECT_TRUE(contains(config_error(config), "\"scaling_factor\" must not be 0"));

  config = flux_config();
  config["use_post_quant_conv"] = "no";
  EXPECT_TRUE(contains(config_error(config), "\"use_post_quant_conv\" must be true or false"));

  config = flux_config();
  config["norm_type"] = "spatial";
  EXPECT_TRUE(contains(config_error(config), "unknown AutoencoderKL config key \"norm_type\""));
}

TEST(AutoencoderKlDecoder, WrongClassNameNamesTheFile) {
  try {
    AutoencoderKlDecoder::load(std::string(TESSERA_FIXTURES_DIR) + "/wan_vae/base/vae", at::kFloat,
                               c10::Device(c10::kCPU));
    FAIL() << "a Wan VAE loaded as AutoencoderKL";
  } catch (const Error& error) {
    EXPECT_TRUE(contains(error.what(), "wan_vae/base/vae/config.json names class \"AutoencoderKLWan\", expected "
                                       "\"AutoencoderKL\""));
  }
}

}  // namespace
}  // namespace tessera::testing
