// The Wan VAE decode split by rows over the ranks (WanVaeDecoder::decode_to_frames) gives what one rank's decode
// gives, and so does the encode split the same way (WanVaeDecoder::encode with a group, the image-to-video
// condition): the gathered float bands within 1e-5 of the single-rank decode, and the same uint8 frames on every rank.
// Latent heights include ones with fewer rows than ranks (some ranks sit the decode out) and bands of one row,
// the halo of the convolutions. "ti2v" is the Wan2.2 VAE (residual up blocks whose duplicating shortcut maps each
// row to its own rows, and 2x2 patches unfolded after the decoder).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <iostream>

#include "parallel/communicator.h"
#include "src/models/wan_vae/wan_vae_decoder.h"
#include "tests/mpi/mpi_test_environment.h"
#include "tests/relative_error.h"

using tessera::testing::relative_error;

namespace tessera {
namespace {

using testing::world;

// The Wan 2.1 fixtures by name, and Wan2.2's "ti2v".
std::string vae_dir(const std::string& model) {
  const std::string root = std::string(TESSERA_FIXTURES_DIR) + (model == "ti2v" ? "/wan22_vae/" : "/wan_vae/");
  return root + model + "/vae";
}

struct SplitCase {
  std::string model;
  int64_t frames, height, width;
};

std::string case_name(const ::testing::TestParamInfo<SplitCase>& info) {
  const SplitCase& c = info.param;
  return c.model + "_f" + std::to_string(c.frames) + "_" + std::to_string(c.height) + "x" + std::to_string(c.width);
}

// The same latents on every rank (a fixed seed), as after a multi-rank denoise.
at::Tensor same_latents(const WanVaeDecoder& decoder, const SplitCase& c) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
  return at::randn({1, decoder.latent_channels(), c.frames, c.height, c.width}, generator, at::kFloat);
}

class WanVaeSplitDecode : public ::testing::TestWithParam<SplitCase> {};

// In fp64 the split decode is the single-rank decode up to rounding: any wrong halo row or band offset would
// show far above 1e-12 (fp32 differences of a few 1e-6 are the convolutions' summation order on other shapes,
// amplified by the tiny fixture's few channels).
TEST_P(WanVaeSplitDecode, EqualsTheSingleRankDecodeInDouble) {
  c10::InferenceMode inference;
  const SplitCase c = GetParam();
  auto decoder = WanVaeDecoder::load(vae_dir(c.model), at::kDouble, c10::Device(c10::kCPU));
  const at::Tensor latents = same_latents(*decoder, c).to(at::kDouble);
  const at::Tensor reference = decoder->decode(latents);
  const at::Tensor band = decoder->decode_band(latents, &world());
  ASSERT_EQ(band.scalar_type(), at::kDouble);
  const at::Tensor gathered = world().all_gather(band, 3, decoder->band_rows(c.height, world().size()));
  ASSERT_EQ(gathered.sizes(), reference.sizes());
  const double error = relative_error(gathered, reference);
  if (world().rank() == 0) {
    std::cout << "[split fp64] " << case_name({c, 0}) << " on " << world().size()
              << " ranks: relative max-abs difference from one rank " << error << "\n";
  }
  EXPECT_LE(error, 1e-12);
}

TEST_P(WanVaeSplitDecode, EqualsTheSingleRankDecode) {
  c10::InferenceMode inference;
  const SplitCase c = GetParam();
  auto decoder = WanVaeDecoder::load(vae_dir(c.model), at::kFloat, c10::Device(c10::kCPU));
  const at::Tensor latents = same_latents(*decoder, c);
  const at::Tensor reference = decoder->decode(latents);

  const at::Tensor band = decoder->decode_band(latents, &world());
  const std::vector<int64_t> rows = decoder->band_rows(c.height, world().size());
  ASSERT_EQ(band.size(3), rows[world().rank()]);
  const at::Tensor gathered = world().all_gather(band, 3, rows);
  const double error = relative_error(gathered, reference);
  if (world().rank() == 0) {
    std::cout << "[split] " << case_name({c, 0}) << " on " << world().size() << " ranks, bands " << at::IntArrayRef(rows)
              << ": relative max-abs difference from one rank " << error << "\n";
  }
  EXPECT_EQ(gathered.sizes(), reference.sizes());
  EXPECT_LE(error, 1e-5);

  const at::Tensor frames = decoder->decode_to_frames(latents, &world());
  const at::Tensor single = pixels_to_frames(reference);
  ASSERT_EQ(frames.sizes(), single.sizes());
  // A pixel within 1e-5 of x.5 may round the other way; any more than one level would be a wrong band.
  EXPECT_LE((frames.to(at::kInt) - single.to(at::kInt)).abs().max().item<int64_t>(), 1);
  // Rank-identical: every rank holds rank 0's frames.
  EXPECT_TRUE(at::equal(world().broadcast(frames, 0), frames));
}

class WanVaeSplitEncode : public ::testing::TestWithParam<SplitCase> {};

// The same video on every rank: `c.frames` latent frames' worth of pixels, c.height x c.width latent rows and columns.
at::Tensor same_video(const WanVaeDecoder& vae, const SplitCase& c, c10::ScalarType dtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  const int64_t scale = vae.spatial_scale();
  return at::rand({1, 3, 1 + (c.frames - 1) * vae.temporal_scale(), c.height * scale, c.width * scale}, generator,
                  at::kFloat)
      .mul(2.0)
      .sub(1.0)
      .to(dtype);
}

// Each rank encodes its band of pixel rows (the downsampling convolutions read one row of the band below, the middle
// block's attention every band's keys and values); the gathered latents are the single-rank encode's.
TEST_P(WanVaeSplitEncode, EqualsTheSingleRankEncode) {
  c10::InferenceMode inference;
  const SplitCase c = GetParam();
  for (const c10::ScalarType dtype : {at::kDouble, at::kFloat}) {
    auto vae = WanVaeDecoder::load(vae_dir(c.model), dtype, c10::Device(c10::kCPU));
    const at::Tensor video = same_video(*vae, c, dtype);
    const at::Tensor reference = vae->encode(video);
    const at::Tensor band = vae->encode_band(video, &world());
    std::vector<int64_t> rows = vae->band_rows(c.height, world().size());
    for (int64_t& value : rows) value /= vae->spatial_scale();
    ASSERT_EQ(band.size(3), rows[world().rank()]);
    const at::Tensor gathered = vae->encode(video, &world());
    ASSERT_EQ(gathered.sizes(), reference.sizes());
    const double error = relative_error(gathered, reference);
    if (world().rank() == 0) {
      std::cout << "[split encode " << (dtype == at::kDouble ? "fp64" : "fp32") << "] " << case_name({c, 0})
                << " on " << world().size() << " ranks, latent bands " << at::IntArrayRef(rows)
                << ": relative max-abs difference from one rank " << error << "\n";
    }
    EXPECT_LE(error, dtype == at::kDouble ? 1e-12 : 1e-5);
    EXPECT_TRUE(at::equal(world().broadcast(gathered, 0), gathered)) << "every rank holds the same latents";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Heights, WanVaeSplitEncode,
    ::testing::Values(SplitCase{"base", 3, 5, 3}, SplitCase{"base", 2, 3, 4}, SplitCase{"base", 1, 1, 3},
                      SplitCase{"base", 2, 7, 2}, SplitCase{"variant", 3, 5, 3}, SplitCase{"ti2v", 3, 5, 3},
                      SplitCase{"ti2v", 2, 3, 2}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Heights, WanVaeSplitDecode,
    ::testing::Values(SplitCase{"base", 3, 5, 3},    // 5 rows: 2+1+1+1 on 4 ranks, 2+2+1 on 3
                      SplitCase{"base", 2, 3, 4},    // fewer rows than 4 ranks: one rank sits out
                      SplitCase{"base", 1, 1, 3},    // one row: one rank decodes, the others wait
                      SplitCase{"base", 2, 7, 2},    // uneven 2+2+2+1
                      SplitCase{"variant", 3, 5, 3},  // the other layout (4x spatial, temporal sample outermost)
                      SplitCase{"ti2v", 3, 5, 3},     // Wan2.2: 16x spatial, residual blocks, patches
                      SplitCase{"ti2v", 2, 3, 2}      // fewer rows than 4 ranks
                      ),
    case_name);

}  // namespace
}  // namespace tessera
