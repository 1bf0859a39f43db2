// Step caches against diffusers' (scripts/fixtures/caches.py): tessera's denoising loop, with classifier-free
// guidance as one batch [uncond, cond], ends at diffusers' latents uncached and under FasterCache,
// FirstBlockCache, Pyramid Attention Broadcast, TaylorSeer (output forecasts) and TeaCache (the reference's rule
// transcribed onto diffusers' blocks, as diffusers has no TeaCache), each given as the tessera --cache spec of diffusers' config.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <tuple>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/flow_match_euler_discrete.h"
#include "tests/wan_cache_loop_fixture.h"

namespace tessera::testing {
namespace {

// (fixture, cache name in its case.json; "uncached" for none)
using CacheCase = std::tuple<std::string, std::string>;

class CacheParity : public ::testing::TestWithParam<CacheCase>, protected WanCacheLoopFixture {
 protected:
  void SetUp() override {
    load(TESSERA_FIXTURES_DIR, std::string(TESSERA_FIXTURES_DIR) + "/caches/" + std::get<0>(GetParam()));
  }

  c10::InferenceMode inference_;
};

TEST_P(CacheParity, LoopEndsAtDiffusersLatents) {
  const std::string& cache = std::get<1>(GetParam());
  const at::Tensor uncached = expected_->load("latents_uncached");
  if (cache == "uncached") {
    EXPECT_TRUE(close_relative_to_scale(run_loop(), uncached));
    return;
  }
  enable_cache(*model_, parse_cache_spec(settings_["caches"][cache].get<std::string>()));
  const at::Tensor cached = run_loop();
  int64_t reused = 0;
  for (const CacheRecord& record : cache_records(*model_)) reused += record.action != BlockAction::computed;
  disable_cache(*model_);
  // The cache acted and changed the result, so matching diffusers' cached latents means something.
  EXPECT_GT(reused, 0);
  EXPECT_FALSE(close_relative_to_scale(cached, uncached, 1e-3));
  EXPECT_TRUE(close_relative_to_scale(cached, expected_->load("latents_" + cache)));
}

std::string case_name(const ::testing::TestParamInfo<CacheCase>& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CacheParity,
                         ::testing::Combine(::testing::Values("odd_tokens", "temporal_patch"),
                                            ::testing::Values("uncached", "faster_cache", "first_block_cache",
                                                              "pyramid_attention_broadcast", "taylorseer",
                                                              "teacache")),
                         case_name);

}  // namespace
}  // namespace tessera::testing
