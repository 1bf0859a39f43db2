// MagCache and SeaCache under parallelism. On the fixtures of their diffusers parity test (tests/fixtures/
// mag_sea_caches: Wan with two guidance contexts, FLUX with uneven text and image shards) at every strategy of the
// world size (Ulysses n, Ring n, USP): every rank takes the same decisions, the same as at one rank, and the
// predictions equal the one-rank ones. A generation with the embedded model under each strategy and CFG-parallel
// gives the one-rank frames within 1/255 per pixel.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "../parity/parity_check.h"
#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "mpi_test_environment.h"
#include "parallel/context_parallel.h"
#include "parallel/device_mesh.h"
#include "src/pipelines/pipeline.h"
#include "tests/mag_sea_cache_fixture.h"

namespace tessera::testing {
namespace {

struct CachedRun {
  std::vector<at::Tensor> predictions;
  std::string decisions;  // per model call, one letter per block; calls separated by '|'
  std::vector<std::pair<std::string, std::vector<double>>> calibration;
};

using Case = std::tuple<std::string, std::string>;  // (fixture, cache in its case.json)

class MagSeaCacheUnderContextParallel : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { fixture_ = MagSeaCacheFixture::load(TESSERA_FIXTURES_DIR, std::get<0>(GetParam())); }

  CachedRun cached() {
    const std::string& cache = std::get<1>(GetParam());
    enable_cache(*fixture_.model, parse_cache_spec(fixture_.case_json["caches"][cache]["spec"].get<std::string>()));
    CachedRun run;
    run.predictions = fixture_.run_loop(true);
    for (const std::string& call : fixture_.decisions()) run.decisions += (run.decisions.empty() ? "" : "|") + call;
    if (cache == "magcache_calibration") run.calibration = magcache_calibration(*fixture_.model);
    disable_cache(*fixture_.model);
    return run;
  }

  c10::InferenceMode inference_;
  MagSeaCacheFixture fixture_;
};

TEST_P(MagSeaCacheUnderContextParallel, EveryRankDecidesAlikeAndMatchesOneRank) {
  const CachedRun single = cached();
  if (std::get<1>(GetParam()) != "magcache_calibration") {
    ASSERT_NE(single.decisions.find('S'), std::string::npos) << single.decisions;
  }
  Model& model = *fixture_.model;
  for (const ParallelConfig& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    enable_parallelism(model, model.context_parallel_plan(), std::make_shared<DeviceMesh>(shared_world(), config));
    const CachedRun parallel = cached();
    disable_parallelism(model);
    // One string of decisions on every rank, the one-rank string.
    const std::vector<std::string> every_rank = gather_decisions(parallel.decisions);
    EXPECT_EQ(every_rank, std::vector<std::string>(every_rank.size(), single.decisions));
    ASSERT_EQ(parallel.predictions.size(), single.predictions.size());
    for (size_t k = 0; k < single.predictions.size(); ++k) {
      EXPECT_TRUE(close_relative_to_scale(parallel.predictions[k], single.predictions[k])) << "step " << k;
    }
    // The calibration's means are over the whole sequence: its sums are reduced over the group.
    ASSERT_EQ(parallel.calibration.size(), single.calibration.size());
    for (size_t c = 0; c < single.calibration.size(); ++c) {
      const auto& ours = parallel.calibration[c].second;
      const auto& reference = single.calibration[c].second;
      ASSERT_EQ(ours.size(), reference.size());
      for (size_t k = 0; k < ours.size(); ++k) EXPECT_NEAR(ours[k], reference[k], 1e-5 * std::abs(reference[k]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, MagSeaCacheUnderContextParallel,
                         ::testing::Combine(::testing::Values("wan", "flux"),
                                            ::testing::Values("magcache", "seacache", "magcache_calibration")),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// The embedded model (a Wan transformer) with classifier-free guidance: the context-parallel strategies, and
// CFG-parallel where the world is even (each branch's cache on its own ranks, "cond" or "uncond").
class MagSeaCacheGeneration : public ::testing::TestWithParam<std::string> {};

TEST_P(MagSeaCacheGeneration, GivesTheSameFramesAsOnOneRank) {
  const auto load = [] { return Pipeline::load(TESSERA_EMBEDDED_MODEL_DIR, at::kFloat, c10::Device(c10::kCPU)); };
  auto reference_pipeline = load();
  GenerationRequest request;
  request.prompt = "green circle moving left";
  request.seed = 23;
  request.steps = 8;
  const Generation generation = reference_pipeline->resolve(request);
  enable_cache(reference_pipeline->transformer(), parse_cache_spec(GetParam()));
  const at::Tensor reference = reference_pipeline->generate(generation, {});
  int64_t skipped = 0;
  for (const CacheRecord& record : cache_records(reference_pipeline->transformer())) {
    skipped += record.action == BlockAction::skipped;
  }
  EXPECT_GT(skipped, 0) << GetParam() << " skips nothing here, so the test proves little";
  std::vector<ParallelConfig> configs = strategies(world().size());
  if (world().size() % 2 == 0) configs.push_back({world().size() / 2, 1, 2});  // CFG-parallel
  for (const ParallelConfig& config : configs) {
    SCOPED_TRACE(config.to_string());
    auto pipeline = load();
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
    enable_parallelism(pipeline->transformer(), pipeline->transformer().context_parallel_plan(), mesh);
    enable_cache(pipeline->transformer(), parse_cache_spec(GetParam()));
    DenoiseOptions loop;
    loop.cfg_group = &mesh->cfg();
    const at::Tensor frames = pipeline->generate(generation, loop);
    ASSERT_EQ(frames.sizes(), reference.sizes());
    EXPECT_LE((frames.to(at::kInt) - reference.to(at::kInt)).abs().max().item<int64_t>(), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, MagSeaCacheGeneration,
                         ::testing::Values("magcache:threshold=0.2,retention=0.2,ratios=default",
                                           "seacache:threshold=0.3"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find(':'));
                         });

}  // namespace
}  // namespace tessera::testing
