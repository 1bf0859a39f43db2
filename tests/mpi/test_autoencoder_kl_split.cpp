// FLUX's AutoencoderKL decode split by rows over the ranks (AutoencoderKlDecoder::decode_to_frames) gives what
// one rank's decode gives: the gathered float bands within 1e-5 of the single-rank decode (1e-12 in fp64), and
// the same uint8 frames on every rank. Every group norm normalises over the whole image, from statistics summed
// across the bands. Latent heights include ones with fewer rows than ranks (some ranks sit the decode out) and
// bands of one latent row; the building blocks are checked on their own too: a halo taller than the bands, and
// a group norm whose mean is far from zero.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "parallel/communicator.h"
#include "parallel/shard_sizes.h"
#include "src/models/autoencoder_kl/autoencoder_kl_decoder.h"
#include "src/models/vae/group_norm.h"
#include "src/models/vae/row_bands.h"
#include "tests/mpi/mpi_test_environment.h"
#include "tests/relative_error.h"

using tessera::testing::relative_error;

namespace tessera {
namespace {

using testing::world;

const std::string kFixtures = std::string(TESSERA_FIXTURES_DIR) + "/autoencoder_kl/";

struct SplitCase {
  std::string model;
  int64_t batch, height, width;
};

std::string case_name(const ::testing::TestParamInfo<SplitCase>& info) {
  const SplitCase& c = info.param;
  return c.model + "_b" + std::to_string(c.batch) + "_" + std::to_string(c.height) + "x" + std::to_string(c.width);
}

// The same latents on every rank (a fixed seed), as after a multi-rank denoise.
at::Tensor same_latents(const AutoencoderKlDecoder& decoder, const SplitCase& c) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  return at::randn({c.batch, decoder.latent_channels(), 1, c.height, c.width}, generator, at::kFloat);
}

// This rank's latent rows of a split of `height` rows over the group (ranks beyond it hold none).
std::vector<int64_t> latent_rows(int64_t height) {
  std::vector<int64_t> rows = shard_sizes(height, std::min<int64_t>(height, world().size()));
  rows.resize(world().size(), 0);
  return rows;
}

class AutoencoderKlSplitDecode : public ::testing::TestWithParam<SplitCase> {};

// In fp64 the split decode is the single-rank decode up to rounding: a wrong halo row, band offset or group-norm
// statistic would show far above 1e-12.
TEST_P(AutoencoderKlSplitDecode, EqualsTheSingleRankDecodeInDouble) {
  c10::InferenceMode inference;
  const SplitCase c = GetParam();
  auto decoder = AutoencoderKlDecoder::load(kFixtures + c.model + "/vae", at::kDouble, c10::Device(c10::kCPU));
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

TEST_P(AutoencoderKlSplitDecode, EqualsTheSingleRankDecode) {
  c10::InferenceMode inference;
  const SplitCase c = GetParam();
  auto decoder = AutoencoderKlDecoder::load(kFixtures + c.model + "/vae", at::kFloat, c10::Device(c10::kCPU));
  const at::Tensor latents = same_latents(*decoder, c);
  const at::Tensor reference = decoder->decode(latents);

  const at::Tensor band = decoder->decode_band(latents, &world());
  const std::vector<int64_t> rows = decoder->band_rows(c.height, world().size());
  ASSERT_EQ(band.size(3), latent_rows(c.height)[world().rank()] * decoder->spatial_scale());
  const at::Tensor gathered = world().all_gather(band, 3, rows);
  const double error = relative_error(gathered, reference);
  if (world().rank() == 0) {
    std::cout << "[split] " << case_name({c, 0}) << " on " << world().size() << " ranks, bands "
              << at::IntArrayRef(rows) << ": relative max-abs difference from one rank " << error << "\n";
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

INSTANTIATE_TEST_SUITE_P(
    Heights, AutoencoderKlSplitDecode,
    ::testing::Values(SplitCase{"flux", 2, 5, 7},  // 5 rows: 3+2 on 2 ranks, 2+2+1 on 3
                      SplitCase{"flux", 1, 3, 4},  // one latent row per rank on 3 ranks
                      SplitCase{"flux", 1, 2, 3},  // fewer rows than 3 ranks: one rank sits out
                      SplitCase{"flux", 1, 1, 5},  // one row: one rank decodes, the others wait
                      SplitCase{"sd", 1, 7, 5}     // post_quant_conv, three levels, 4+3 / 3+2+2
                      ),
    case_name);

// Image [1, 2, H, 3] with a distinct value per row; each rank holds its band of 1 or 2 latent rows.
TEST(RowBandsHalo, TallerThanTheBandsComesFromSeveralRanks) {
  c10::InferenceMode inference;
  const int64_t height = 2 * world().size() - 1;  // bands 2, 2, ..., 1
  const at::Tensor image = at::arange(2 * height * 3, at::kDouble).view({1, 2, height, 3});
  const std::vector<int64_t> rows = shard_sizes(height, world().size());
  const RowBands bands(world(), rows);
  const int64_t offset = exclusive_prefix_sum(rows)[world().rank()];
  for (int64_t halo : {1, 2, 3, 5}) {
    const at::Tensor padded = at::constant_pad_nd(image, {0, 0, halo, halo});
    const at::Tensor expected = padded.narrow(2, offset, rows[world().rank()] + 2 * halo);
    EXPECT_TRUE(at::equal(bands.with_halo(image.narrow(2, offset, rows[world().rank()]), halo), expected))
        << "halo " << halo << " on rank " << world().rank();
  }
}

// Activations with a mean of 1000 and a spread of 1, where E[x^2] - E[x]^2 in fp32 would keep hardly a digit of
// the variance: the band statistics keep it, and the split norm is as close to the exact (fp64) norm of the same
// fp32 data as torch's kernel on the whole image is (both lose ~1e-5 to the fp32 rounding of x * scale + shift).
TEST(BandGroupNorm, IsAsExactAsTheWholeImageNormFarFromZero) {
  c10::InferenceMode inference;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const int64_t height = 2 * world().size() + 1;
  const at::Tensor image = at::randn({2, 8, height, 6}, generator, at::kFloat) + 1000.0;
  GroupNorm norm(4, 8, 1e-6);
  for (auto& parameter : norm.parameters()) parameter.uniform_(0.5, 1.5, generator);
  const auto parameters = norm.named_parameters();
  const at::Tensor exact = at::group_norm(image.to(at::kDouble), 4, parameters["weight"].to(at::kDouble),
                                          parameters["bias"].to(at::kDouble), 1e-6);
  const at::Tensor whole = norm.forward(image, RowBands());
  const std::vector<int64_t> rows = shard_sizes(height, world().size());
  const at::Tensor band = norm.forward(image.narrow(2, exclusive_prefix_sum(rows)[world().rank()],
                                                    rows[world().rank()]), RowBands(world(), rows));
  const at::Tensor gathered = world().all_gather(band, 2, rows);
  const double torch_error = relative_error(whole.to(at::kDouble), exact);
  const double split_error = relative_error(gathered.to(at::kDouble), exact);
  if (world().rank() == 0) {
    std::cout << "[group norm, mean 1000] relative error from the fp64 norm: whole image (torch) " << torch_error
              << ", split over " << world().size() << " ranks " << split_error << "\n";
  }
  EXPECT_LE(split_error, std::max(2 * torch_error, 1e-6));
  EXPECT_LE(split_error, 1e-4);
}

}  // namespace
}  // namespace tessera
