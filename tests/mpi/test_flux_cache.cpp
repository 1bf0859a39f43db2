// Caches on FLUX under context parallelism: the loop and cache settings of the FLUX cache parity fixtures
// (tests/fixtures/flux_caches and, for DBCache, dbcache/flux, whose text and image tokens split unevenly), at
// every strategy of the world size (Ulysses n, Ring n, USP). Both streams' shards are cached rank-locally; every rank takes the same decisions,
// and the outputs and decisions equal the same cache at one rank.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "../parity/parity_check.h"
#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "mpi_test_environment.h"
#include "tests/flux_cache_fixture.h"
#include "parallel/context_parallel.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"

namespace tessera::testing {
namespace {

struct CachedRun {
  std::vector<at::Tensor> outputs;  // per step, the whole sample (gathered at proj_out)
  std::string decisions;            // per step and hooked unit: C, S or F, steps separated by '|'
};

class FluxCacheUnderContextParallel : public ::testing::TestWithParam<std::string> {
 protected:
  // DBCache's settings are those of its own fixture (cache-dit's, tests/fixtures/dbcache/flux).
  void SetUp() override {
    fixture_ = FluxCacheFixture::load(TESSERA_FIXTURES_DIR,
                                      GetParam().rfind("dbcache", 0) == 0 ? "dbcache/flux" : "flux_caches");
  }

  CachedRun cached() {
    Model& model = *fixture_.model;
    enable_cache(model, parse_cache_spec(fixture_.case_json["caches"][GetParam()]["spec"].get<std::string>()));
    CachedRun run;
    run.outputs = fixture_.run_loop(true);
    int64_t step = -1;
    for (const CacheRecord& record : cache_records(model)) {
      if (record.step != step && step >= 0) run.decisions += "|";
      step = record.step;
      run.decisions += "CSF"[static_cast<int>(record.action)];
    }
    disable_cache(model);
    return run;
  }

  c10::InferenceMode inference_;
  FluxCacheFixture fixture_;
};

TEST_P(FluxCacheUnderContextParallel, EveryRankDecidesAlikeAndMatchesOneRank) {
  const CachedRun single = cached();
  ASSERT_NE(single.decisions.find_first_of("SF"), std::string::npos) << single.decisions;
  for (const auto& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
    enable_parallelism(*fixture_.model, fixture_.model->context_parallel_plan(), mesh);
    const CachedRun parallel = cached();
    disable_parallelism(*fixture_.model);
    for (const std::string& other : gather_decisions(parallel.decisions)) EXPECT_EQ(other, parallel.decisions);
    EXPECT_EQ(parallel.decisions, single.decisions);
    for (size_t step = 0; step < single.outputs.size(); ++step) {
      EXPECT_TRUE(close_relative_to_scale(parallel.outputs[step], single.outputs[step])) << "step " << step;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, FluxCacheUnderContextParallel,
                         ::testing::Values("first_block_cache", "teacache", "taylorseer", "pyramid_attention_broadcast",
                                           "faster_cache", "dbcache", "dbcache_taylorseer"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace tessera::testing
