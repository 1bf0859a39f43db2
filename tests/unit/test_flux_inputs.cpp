// FluxPipeline's latent packing, position ids, sigmas and resolution shift, against what its Python code computes
// (written out here element by element, so a transposed axis or an off-by-one fails).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/check.h"
#include "src/pipelines/flux/flux_inputs.h"
#include "src/schedulers/flow_match_euler_discrete.h"

namespace tessera {
namespace {

TEST(FluxInputs, PacksTwoByTwoCellsChannelMajorAndUnpacksBack) {
  const int64_t channels = 3, height = 4, width = 6;
  const at::Tensor latents = at::arange(2 * channels * height * width, at::kFloat).view({2, channels, 1, height, width});
  const at::Tensor packed = pack_latents(latents);
  ASSERT_EQ(packed.sizes(), (at::IntArrayRef{2, (height / 2) * (width / 2), channels * 4}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t row = 0; row < height / 2; ++row)
      for (int64_t column = 0; column < width / 2; ++column)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t dy = 0; dy < 2; ++dy)
            for (int64_t dx = 0; dx < 2; ++dx) {
              EXPECT_EQ(packed[b][row * (width / 2) + column][c * 4 + dy * 2 + dx].item<float>(),
                        latents[b][c][0][2 * row + dy][2 * column + dx].item<float>());
            }
  EXPECT_TRUE(at::equal(unpack_latents(packed, height, width), latents));
}

TEST(FluxInputs, RefusesOddLatentSizesAndClips) {
  EXPECT_THROW(pack_latents(at::zeros({1, 4, 1, 5, 6})), Error);
  EXPECT_THROW(pack_latents(at::zeros({1, 4, 2, 4, 6})), Error);
}

TEST(FluxInputs, ImageIdsAreZeroRowColumnInRowMajorOrder) {
  const at::Tensor ids = latent_image_ids(6, 10);  // 3 x 5 patches
  ASSERT_EQ(ids.sizes(), (at::IntArrayRef{15, 3}));
  for (int64_t row = 0; row < 3; ++row)
    for (int64_t column = 0; column < 5; ++column) {
      const at::Tensor id = ids[row * 5 + column];
      EXPECT_EQ(id[0].item<float>(), 0);
      EXPECT_EQ(id[1].item<float>(), row);
      EXPECT_EQ(id[2].item<float>(), column);
    }
}

TEST(FluxInputs, SigmasRunFromOneToOneOverSteps) {
  const auto sigmas = flux_sigmas(4);
  ASSERT_EQ(sigmas.size(), 4u);
  EXPECT_DOUBLE_EQ(sigmas[0], 1.0);
  EXPECT_DOUBLE_EQ(sigmas[1], 0.75);
  EXPECT_DOUBLE_EQ(sigmas[3], 0.25);
  EXPECT_EQ(flux_sigmas(1), std::vector<double>{1.0});
}

TEST(FluxInputs, ResolutionShiftIsLinearBetweenTheConfiguredEnds) {
  FlowMatchEulerDiscreteConfig config;
  config.use_dynamic_shifting = true;
  EXPECT_NEAR(resolution_shift(256, config), 0.5, 1e-12);
  EXPECT_NEAR(resolution_shift(4096, config), 1.15, 1e-12);
  // FLUX.1 at 1024x1024: 4096 tokens; at 512x512: 1024 tokens -> 0.5 + 0.65 * 768 / 3840.
  EXPECT_NEAR(resolution_shift(1024, config), 0.5 + 0.65 * 768.0 / 3840.0, 1e-12);
  config.base_shift = 0.3;
  config.max_shift = 0.9;
  config.base_image_seq_len = 100;
  config.max_image_seq_len = 200;
  EXPECT_NEAR(resolution_shift(150, config), 0.6, 1e-12);
}

}  // namespace
}  // namespace tessera
