// Step caches on FLUX against diffusers' (scripts/fixtures/flux_caches.py): the same plain flow-matching Euler
// loop on flux/dev_guidance (one double-stream, two single-stream blocks) gives diffusers' model output at every
// step, uncached and under FirstBlockCache, TaylorSeer, Pyramid Attention Broadcast and FasterCache (diffusers'
// enable_cache) and TeaCache (TeaCache4FLUX's rule transcribed onto diffusers' blocks), each given as the tessera
// --cache spec of the same settings; and every hooked block or attention does at every step what diffusers' did.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "parity_check.h"
#include "tests/flux_cache_fixture.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"

namespace tessera::testing {
namespace {

class FluxCacheParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fixture_ = FluxCacheFixture::load(TESSERA_FIXTURES_DIR);
    expected_ = std::make_unique<io::SafetensorsFile>(std::string(TESSERA_FIXTURES_DIR) +
                                                      "/flux_caches/expected.safetensors");
  }

  at::Tensor run_loop(bool cached) { return at::stack(fixture_.run_loop(cached)); }

  // Per step, one letter per hooked unit in call order: C computed, S anything else.
  std::vector<std::string> decisions() {
    std::map<int64_t, std::string> steps;
    for (const CacheRecord& record : cache_records(*fixture_.model)) {
      steps[record.step] += record.action == BlockAction::computed ? 'C' : 'S';
    }
    std::vector<std::string> letters;
    for (const auto& [step, line] : steps) letters.push_back(line);
    return letters;
  }

  c10::InferenceMode inference_;
  FluxCacheFixture fixture_;
  std::unique_ptr<io::SafetensorsFile> expected_;
};

TEST_P(FluxCacheParity, EveryStepMatchesDiffusers) {
  const std::string& cache = GetParam();
  const nlohmann::json& settings = fixture_.case_json["caches"][cache];
  const at::Tensor uncached = run_loop(false);
  EXPECT_TRUE(close_relative_to_scale(uncached, expected_->load("outputs_uncached")));

  enable_cache(*fixture_.model, parse_cache_spec(settings["spec"].get<std::string>()));
  std::vector<std::string> names = cache_session(*fixture_.model)->block_names();
  const at::Tensor cached = run_loop(true);
  const std::vector<std::string> letters = decisions();
  disable_cache(*fixture_.model);

  // The same units, doing the same at every step; some reuse, so matching diffusers' outputs means something.
  const auto units = settings["units"].get<std::vector<std::string>>();
  if (cache == "faster_cache") names.pop_back();  // the model's own hook (CFG reuse), off when guidance-distilled
  EXPECT_EQ(names, units);
  EXPECT_EQ(letters, settings["decisions"].get<std::vector<std::string>>());
  EXPECT_NE(letters.front().find('C'), std::string::npos);
  EXPECT_FALSE(close_relative_to_scale(cached, uncached, 1e-3));
  for (int64_t k = 0; k < cached.size(0); ++k) {
    EXPECT_TRUE(close_relative_to_scale(cached[k], expected_->load("outputs_" + cache)[k])) << "step " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FluxCacheParity,
                         ::testing::Values("first_block_cache", "teacache", "taylorseer", "pyramid_attention_broadcast",
                                           "faster_cache"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace tessera::testing
