// MagCache and SeaCache against diffusers' hooks (scripts/fixtures/mag_sea_caches.py): the fixture's flow-matching
// loop on the tiny Wan (classifier-free guidance, contexts "cond" and "uncond") and FLUX models gives diffusers'
// prediction at every step within 1e-5 of its scale, every block does what diffusers' did at every model call, and
// MagCache's calibration measures diffusers' ratios; the ratios interpolate to other step counts as diffusers'.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "cache/mag_cache_ratios.h"
#include "parity_check.h"
#include "tests/mag_sea_cache_fixture.h"

namespace tessera::testing {
namespace {

// (model fixture "wan" or "flux", cache name in its case.json)
using Case = std::tuple<std::string, std::string>;

class MagSeaCacheParity : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    fixture_ = MagSeaCacheFixture::load(TESSERA_FIXTURES_DIR, std::get<0>(GetParam()));
    expected_ = std::make_unique<io::SafetensorsFile>(std::string(TESSERA_FIXTURES_DIR) + "/mag_sea_caches/" +
                                                      std::get<0>(GetParam()) + "/expected.safetensors");
  }

  c10::InferenceMode inference_;
  MagSeaCacheFixture fixture_;
  std::unique_ptr<io::SafetensorsFile> expected_;
};

TEST_P(MagSeaCacheParity, EveryStepMatchesDiffusers) {
  const std::string& cache = std::get<1>(GetParam());
  const nlohmann::json& settings = fixture_.case_json["caches"][cache];
  const at::Tensor uncached = at::stack(fixture_.run_loop(false));
  EXPECT_TRUE(close_relative_to_scale(uncached, expected_->load("outputs_uncached")));

  enable_cache(*fixture_.model, parse_cache_spec(settings["spec"].get<std::string>()));
  const at::Tensor cached = at::stack(fixture_.run_loop(true));
  const std::vector<std::string> decisions = fixture_.decisions();
  disable_cache(*fixture_.model);

  // The same blocks run at every call; some calls skip, so matching diffusers' outputs means something.
  EXPECT_EQ(decisions, settings["decisions"].get<std::vector<std::string>>());
  EXPECT_FALSE(close_relative_to_scale(cached, uncached, 1e-3));
  const at::Tensor expected = expected_->load("outputs_" + cache);
  for (int64_t k = 0; k < cached.size(0); ++k) {
    EXPECT_TRUE(close_relative_to_scale(cached[k], expected[k])) << "step " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MagSeaCacheParity,
                         ::testing::Combine(::testing::Values("wan", "flux"), ::testing::Values("magcache", "seacache")),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

class MagCacheCalibrationParity : public ::testing::TestWithParam<std::string> {};

TEST_P(MagCacheCalibrationParity, MeasuresDiffusersRatiosAndNeverSkips) {
  c10::InferenceMode inference;
  MagSeaCacheFixture fixture = MagSeaCacheFixture::load(TESSERA_FIXTURES_DIR, GetParam());
  const nlohmann::json& settings = fixture.case_json["caches"]["magcache_calibration"];
  enable_cache(*fixture.model, parse_cache_spec(settings["spec"].get<std::string>()));
  fixture.run_loop(true);
  EXPECT_EQ(fixture.decisions(), settings["decisions"].get<std::vector<std::string>>());
  const auto measured = magcache_calibration(*fixture.model);
  disable_cache(*fixture.model);
  const nlohmann::json& expected = fixture.case_json["calibration"];
  ASSERT_EQ(measured.size(), expected.size());
  for (const auto& [context, ratios] : measured) {
    const auto reference = expected[context].get<std::vector<double>>();
    ASSERT_EQ(ratios.size(), reference.size()) << context;
    for (size_t k = 0; k < ratios.size(); ++k) {
      EXPECT_NEAR(ratios[k], reference[k], 1e-5 * std::abs(reference[k])) << context << " step " << k;
    }
  }
}

TEST_P(MagCacheCalibrationParity, RatiosInterpolateAsDiffusers) {
  MagSeaCacheFixture fixture = MagSeaCacheFixture::load(TESSERA_FIXTURES_DIR, GetParam());
  const auto ratios = fixture.case_json["ratios"].get<std::vector<double>>();
  const nlohmann::json& interpolated = fixture.case_json["interpolated"];
  for (auto it = interpolated.begin(); it != interpolated.end(); ++it) {
    const std::vector<float> ours = magcache_ratios_for_steps(ratios, std::stoll(it.key()));
    EXPECT_EQ(ours, it.value().get<std::vector<float>>()) << it.key() << " steps";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MagCacheCalibrationParity, ::testing::Values("wan", "flux"));

}  // namespace
}  // namespace tessera::testing
