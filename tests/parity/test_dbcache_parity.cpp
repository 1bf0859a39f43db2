// DBCache against cache-dit's own (scripts/fixtures/dbcache.py: cache-dit 1.5.3's DBCache, plain and with its
// second-order TaylorSeer calibrator, on diffusers 0.42.1's blocks). Wan: tessera's loop with guidance as one batch
// ends at cache-dit's latents. FLUX (one double-stream and two single-stream blocks, Fn 1, Bn 1): every step's output
// is cache-dit's. Both: every block does at every step what cache-dit's did, and the residual change each decision
// measured is cache-dit's.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <tuple>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "common/check.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/flow_match_euler_discrete.h"
#include "tests/flux_cache_fixture.h"
#include "tests/wan_cache_loop_fixture.h"

namespace tessera::testing {
namespace {

// Per step, one letter per block in call order: C computed, S skipped or forecast; and block 0's metric.
struct Decisions {
  std::vector<std::string> letters;
  std::map<int64_t, double> metrics;  // steps with a measured change
};

Decisions decisions_of(Model& model) {
  std::map<int64_t, std::string> steps;
  Decisions decisions;
  for (const CacheRecord& record : cache_records(model)) {
    steps[record.step] += record.action == BlockAction::computed ? 'C' : 'S';
    if (record.block == 0 && !std::isnan(record.metric)) decisions.metrics[record.step] = record.metric;
  }
  for (const auto& [step, line] : steps) decisions.letters.push_back(line);
  return decisions;
}

// The decisions and measured changes the fixture recorded from cache-dit. Its diffs are fp32 means, tessera's
// double sums of fp32 values: equal to a few ulps of fp32.
void expect_cache_dits_decisions(const Decisions& decisions, const nlohmann::json& settings) {
  EXPECT_EQ(decisions.letters, settings["decisions"].get<std::vector<std::string>>());
  std::map<int64_t, double> expected;
  for (const auto& [step, diff] : settings["residual_diffs"].items()) expected[std::stoll(step)] = diff.get<double>();
  ASSERT_EQ(decisions.metrics.size(), expected.size());
  for (const auto& [step, diff] : expected) {
    ASSERT_EQ(decisions.metrics.count(step), 1u) << "step " << step;
    EXPECT_NEAR(decisions.metrics.at(step), diff, 1e-5 * std::abs(diff)) << "step " << step;
  }
}

// (Wan fixture, setting)
using WanCase = std::tuple<std::string, std::string>;

class DBCacheWanParity : public ::testing::TestWithParam<WanCase>, protected WanCacheLoopFixture {
 protected:
  void SetUp() override {
    load(TESSERA_FIXTURES_DIR, detail::concat(TESSERA_FIXTURES_DIR, "/dbcache/", std::get<0>(GetParam())));
  }

  c10::InferenceMode inference_;
};

TEST_P(DBCacheWanParity, LoopEndsAtCacheDitsLatentsWithItsDecisions) {
  const nlohmann::json& settings = settings_["caches"][std::get<1>(GetParam())];
  const at::Tensor uncached = expected_->load("latents_uncached");
  EXPECT_TRUE(close_relative_to_scale(run_loop(), uncached));
  enable_cache(*model_, parse_cache_spec(settings["spec"].get<std::string>()));
  const at::Tensor cached = run_loop();
  const Decisions decisions = decisions_of(*model_);
  disable_cache(*model_);
  expect_cache_dits_decisions(decisions, settings);
  // The cache reused and changed the result, so matching cache-dit's latents means something.
  EXPECT_FALSE(close_relative_to_scale(cached, uncached, 1e-3));
  EXPECT_TRUE(close_relative_to_scale(cached, expected_->load("latents_" + std::get<1>(GetParam()))));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DBCacheWanParity,
                         ::testing::Combine(::testing::Values("odd_tokens", "temporal_patch"),
                                            ::testing::Values("dbcache", "dbcache_taylorseer")),
                         [](const ::testing::TestParamInfo<WanCase>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

class DBCacheFluxParity : public ::testing::TestWithParam<std::string> {};

TEST_P(DBCacheFluxParity, EveryStepMatchesCacheDit) {
  c10::InferenceMode inference;
  FluxCacheFixture fixture = FluxCacheFixture::load(TESSERA_FIXTURES_DIR, "dbcache/flux");
  const io::SafetensorsFile expected(detail::concat(TESSERA_FIXTURES_DIR, "/dbcache/flux/expected.safetensors"));
  const nlohmann::json& settings = fixture.case_json["caches"][GetParam()];
  const at::Tensor uncached = at::stack(fixture.run_loop(false));
  EXPECT_TRUE(close_relative_to_scale(uncached, expected.load("outputs_uncached")));
  enable_cache(*fixture.model, parse_cache_spec(settings["spec"].get<std::string>()));
  const std::vector<std::string> names = cache_session(*fixture.model)->block_names();
  const at::Tensor cached = at::stack(fixture.run_loop(true));
  const Decisions decisions = decisions_of(*fixture.model);
  disable_cache(*fixture.model);
  EXPECT_EQ(names, settings["units"].get<std::vector<std::string>>());
  expect_cache_dits_decisions(decisions, settings);
  EXPECT_FALSE(close_relative_to_scale(cached, uncached, 1e-3));
  const at::Tensor reference = expected.load("outputs_" + GetParam());
  for (int64_t k = 0; k < cached.size(0); ++k) {
    EXPECT_TRUE(close_relative_to_scale(cached[k], reference[k])) << "step " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Settings, DBCacheFluxParity, ::testing::Values("dbcache", "dbcache_taylorseer"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace tessera::testing
