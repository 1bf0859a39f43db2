// Caches on FLUX under context parallelism: the loop and cache settings of the FLUX cache parity fixture
// (tests/fixtures/flux_caches, whose text and image tokens split unevenly), at every strategy of the world size
// (Ulysses n, Ring n, USP). Both streams' shards are cached rank-locally; every rank takes the same decisions,
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
  void SetUp() override {
    const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/flux_caches";
    std::ifstream file(dir + "/case.json");
    case_ = nlohmann::json::parse(file);
    model_ = load_model(std::string(TESSERA_FIXTURES_DIR) + "/" + case_["model"].get<std::string>(), at::kFloat,
                        c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    for (const std::string& name : inputs.names()) inputs_.set(name, inputs.load(name));
  }

  CachedRun cached() {
    enable_cache(*model_, parse_cache_spec(case_["caches"][GetParam()]["spec"].get<std::string>()));
    const auto sigmas = case_["sigmas"].get<std::vector<double>>();
    CachedRun run;
    at::Tensor latents = inputs_.tensor("hidden_states");
    for (size_t k = 0; k + 1 < sigmas.size(); ++k) {
      set_cache_timestep(*model_, sigmas[k] * 1000);
      Args args = inputs_;
      args.set("hidden_states", latents);
      args.set("timestep", at::full({latents.size(0)}, sigmas[k]));
      run.outputs.push_back((*model_)(args).at(0));
      latents = latents + (sigmas[k + 1] - sigmas[k]) * run.outputs.back();
    }
    int64_t step = -1;
    for (const CacheRecord& record : cache_records(*model_)) {
      if (record.step != step && step >= 0) run.decisions += "|";
      step = record.step;
      run.decisions += "CSF"[static_cast<int>(record.action)];
    }
    disable_cache(*model_);
    return run;
  }

  c10::InferenceMode inference_;
  nlohmann::json case_;
  std::shared_ptr<Model> model_;
  Args inputs_;
};

// Every rank's decision string, as seen by this rank.
std::vector<std::string> all_decisions(const std::string& decisions) {
  const at::Tensor mine = at::tensor(std::vector<int64_t>(decisions.begin(), decisions.end()), at::kLong);
  const at::Tensor all = world().all_gather(mine.unsqueeze(0), 0);
  std::vector<std::string> result;
  for (int64_t r = 0; r < all.size(0); ++r) {
    std::string text;
    for (int64_t i = 0; i < all.size(1); ++i) text += static_cast<char>(all[r][i].item<int64_t>());
    result.push_back(text);
  }
  return result;
}

TEST_P(FluxCacheUnderContextParallel, EveryRankDecidesAlikeAndMatchesOneRank) {
  const CachedRun single = cached();
  ASSERT_NE(single.decisions.find_first_of("SF"), std::string::npos) << single.decisions;
  for (const auto& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
    enable_parallelism(*model_, model_->context_parallel_plan(), mesh);
    const CachedRun parallel = cached();
    disable_parallelism(*model_);
    for (const std::string& other : all_decisions(parallel.decisions)) EXPECT_EQ(other, parallel.decisions);
    EXPECT_EQ(parallel.decisions, single.decisions);
    for (size_t step = 0; step < single.outputs.size(); ++step) {
      EXPECT_TRUE(close_relative_to_scale(parallel.outputs[step], single.outputs[step])) << "step " << step;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, FluxCacheUnderContextParallel,
                         ::testing::Values("first_block_cache", "teacache", "taylorseer", "pyramid_attention_broadcast",
                                           "faster_cache"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace tessera::testing
