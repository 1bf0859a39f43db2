// Caches under context parallelism on the Wan fixtures: a short denoising-like loop (changing timestep and
// hidden states) with each cache method, at every strategy of the world size. Every rank takes the same
// decisions, the output equals the same cache at one rank, decisions stay collective when the local metrics
// differ across ranks, and disable_cache gives back the uncached model exactly.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <ostream>
#include <variant>

#include "../parity/parity_check.h"
#include "cache/cache_stats_json.h"
#include "cache/enable_cache.h"
#include "common/check.h"
#include "hooks/hook_registry.h"
#include "mpi_test_environment.h"
#include "parallel/context_parallel.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "toy_cache_model.h"

namespace tessera::testing {
namespace {

constexpr int kSteps = 6;

struct Trajectory {
  std::vector<at::Tensor> outputs;  // per step, the full sample (gathered at proj_out)
  std::string decisions;            // per step and block: C, S or F, steps separated by '|'
  std::vector<double> metrics;      // per step, the decision value of block 0 (NaN: none)
};

// One cache method with a setting that, on these fixtures, mixes computed and skipped/forecast steps.
struct Case {
  std::string fixture;
  std::string name;
  CacheConfig config;
  bool cfg_batch = false;  // run classifier-free guidance as one batch [uncond, cond] (FasterCache splits it)
};

// Spatial every 2nd call within (100, 800), cross every 3rd within (0, 1000): over 1000, 875, ..., 375 both
// compute and broadcast steps occur, differently per type.
PyramidAttentionBroadcastConfig pab_config() {
  PyramidAttentionBroadcastConfig config;
  config.spatial_attention_block_skip_range = 2;
  config.cross_attention_block_skip_range = 3;
  config.cross_attention_timestep_skip_range = {0, 1000};
  return config;
}

// Attention every 3rd call and the unconditional branch every 3rd step, both within (-1, 800): from step 2
// (timestep 750) on, both reuse and compute steps occur.
FasterCacheConfig faster_cache_config() {
  FasterCacheConfig config;
  config.spatial_attention_block_skip_range = 3;
  config.spatial_attention_timestep_skip_range = {-1, 800};
  config.unconditional_batch_skip_range = 3;
  config.unconditional_batch_timestep_skip_range = {-1, 800};
  return config;
}

// Fn 1 and `bn` Bn blocks, reusing from step 1 while the change stays under 0.3, at most two steps in a row, with
// TaylorSeer of order `taylorseer_order` (0: none).
DBCacheConfig db_cache_config(int64_t bn, int64_t taylorseer_order) {
  return DBCacheConfig{.fn_compute_blocks = 1,
                       .bn_compute_blocks = bn,
                       .residual_diff_threshold = 0.3,
                       .max_warmup_steps = 1,
                       .max_continuous_cached_steps = 2,
                       .taylorseer_order = taylorseer_order};
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.fixture + "_" + info.param.name; }

class CacheUnderContextParallel : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/" + GetParam().fixture;
    model_ = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    hidden_states_ = inputs.load("hidden_states");
    timestep_ = inputs.load("timestep");
    text_ = inputs.load("encoder_hidden_states");
  }

  // kSteps forwards: timestep t_k = t_0 (1 - k / 8), x_{k+1} = x_k - 0.05 output_k (an Euler-like step). PAB
  // decides on a scheduler-like timestep 1000 (1 - k / 8), set the same on every rank through the session.
  Trajectory denoise(const at::Tensor& start) {
    Trajectory run;
    at::Tensor x = start;
    for (int step = 0; step < kSteps; ++step) {
      const at::Tensor t = timestep_ * (1.0 - step / 8.0);
      if (cache_enabled(*model_)) set_cache_timestep(*model_, 1000.0 * (1.0 - step / 8.0));
      if (!GetParam().cfg_batch) {
        const at::Tensor output =
            (*model_)({{"hidden_states", x}, {"timestep", t}, {"encoder_hidden_states", text_}}).at(0);
        run.outputs.push_back(output);
        x = x - 0.05 * output;
        continue;
      }
      // The unconditional text is a fixed function of the text, the same on every rank.
      const at::Tensor output = (*model_)({{"hidden_states", at::cat({x, x})},
                                           {"timestep", at::cat({t, t})},
                                           {"encoder_hidden_states", at::cat({text_ * -0.5, text_})}})
                                    .at(0);
      run.outputs.push_back(output);
      const auto halves = output.chunk(2, 0);
      x = x - 0.05 * (halves[0] + 3.0 * (halves[1] - halves[0]));
    }
    if (cache_enabled(*model_)) {
      int64_t step = -1;
      for (const CacheRecord& record : cache_records(*model_)) {
        if (record.step != step) {
          if (step >= 0) run.decisions += "|";
          step = record.step;
          run.metrics.push_back(record.metric);
        }
        run.decisions += "CSF"[static_cast<int>(record.action)];
      }
    }
    return run;
  }

  // The cache reduces its decisions over the group of the model's parallelism, whatever that is now.
  Trajectory cached(const at::Tensor& start) {
    enable_cache(*model_, GetParam().config);
    Trajectory run = denoise(start);
    disable_cache(*model_);
    return run;
  }

  c10::InferenceMode inference_;
  std::shared_ptr<Model> model_;
  at::Tensor hidden_states_, timestep_, text_;
};

TEST_P(CacheUnderContextParallel, EveryRankDecidesAlikeAndMatchesOneRank) {
  const Trajectory single = cached(hidden_states_);
  // The setting must exercise both branches, else the test proves little.
  ASSERT_NE(single.decisions.find_first_of("SF"), std::string::npos) << single.decisions;
  for (const auto& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
    enable_parallelism(*model_, model_->context_parallel_plan(), mesh);
    const Trajectory parallel = cached(hidden_states_);
    disable_parallelism(*model_);
    for (const std::string& other : gather_decisions(parallel.decisions)) EXPECT_EQ(other, parallel.decisions);
    EXPECT_EQ(parallel.decisions, single.decisions);
    for (size_t step = 0; step < single.metrics.size(); ++step) {
      if (std::isnan(single.metrics[step])) continue;
      // Relative, as the outputs are: the metric is an fp32 ratio whose sums split across ranks.
      EXPECT_NEAR(parallel.metrics[step], single.metrics[step], 1e-5 * std::abs(single.metrics[step]))
          << "step " << step;
    }
    for (int step = 0; step < kSteps; ++step) {
      EXPECT_TRUE(close_relative_to_scale(parallel.outputs[step], single.outputs[step])) << "step " << step;
    }
  }
  if (world().rank() == 0) {
    // What the cache costs in accuracy on this toy trajectory: the last step's output against no cache.
    const at::Tensor uncached = denoise(hidden_states_).outputs.back();
    const double error = relative_error(single.outputs.back(), uncached);
    std::printf("[ %s ] last output vs uncached: max abs error / max abs = %.3g\n", case_name({GetParam(), 0}).c_str(),
                error);
    std::string metrics;
    for (double metric : single.metrics) metrics += " " + (std::isnan(metric) ? std::string("-") : std::to_string(metric));
    std::printf("[ %s ] decisions %s, metrics%s\n", case_name({GetParam(), 0}).c_str(), single.decisions.c_str(),
                metrics.c_str());
  }
}

TEST_P(CacheUnderContextParallel, DisableRestoresTheUncachedModelExactly) {
  auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{world().size(), 1, 1});
  enable_parallelism(*model_, model_->context_parallel_plan(), mesh);
  const Trajectory uncached = denoise(hidden_states_);
  cached(hidden_states_);
  const Trajectory again = denoise(hidden_states_);
  disable_parallelism(*model_);
  for (int step = 0; step < kSteps; ++step) EXPECT_TRUE(at::equal(again.outputs[step], uncached.outputs[step]));
}

INSTANTIATE_TEST_SUITE_P(
    Methods, CacheUnderContextParallel,
    ::testing::Values(Case{"temporal_patch", "fbc", FirstBlockCacheConfig{0.08}},
                      Case{"per_token_timestep", "fbc", FirstBlockCacheConfig{0.08}},
                      Case{"temporal_patch", "teacache", TeaCacheConfig{0.6, {}, 1}},
                      Case{"per_token_timestep", "teacache", TeaCacheConfig{0.6, {}, 1}},
                      Case{"odd_tokens", "teacache_modulated_input",
                           TeaCacheConfig{0.15, {}, 1, kDefaultCacheBlocks, TeaCacheIndicator::modulated_input}},
                      Case{"temporal_patch", "taylorseer", TaylorSeerConfig{2, 3, 1}},
                      Case{"odd_tokens", "taylorseer", TaylorSeerConfig{1, 2, 1}},
                      Case{"temporal_patch", "pab", pab_config()}, Case{"odd_tokens", "pab", pab_config()},
                      Case{"temporal_patch", "fastercache", faster_cache_config(), true},
                      Case{"odd_tokens", "fastercache", faster_cache_config(), true},
                      Case{"temporal_patch", "dbcache", db_cache_config(1, 0)},
                      Case{"odd_tokens", "dbcache_taylorseer", db_cache_config(0, 2)},
                      Case{"temporal_patch", "dbcache_taylorseer", db_cache_config(1, 1), true}),
    case_name);

// The metric's sums are reduced over the group: when only rank 0's shard changes (the other ranks see a
// relative change of 0 locally, rank 0 a large one), every rank gets the global value and nobody waits alone.
TEST(CacheMetric, RelativeChangeIsReducedOverTheGroup) {
  const int n = world().size(), rank = world().rank();
  CacheSession session(FirstBlockCacheConfig{}, {"blocks.0"}, [] { return shared_world(); });
  const at::Tensor previous = at::full({1, 3 + rank, 4}, 1.0);  // uneven shards: 3, 4, 5, ... tokens
  const at::Tensor current = rank == 0 ? previous * 3 : previous.clone();
  const double value = session.relative_l1(current, previous);
  int64_t total = 0;
  for (int r = 0; r < n; ++r) total += 3 + r;
  const double expected = 2.0 * 12 / (4.0 * total);  // rank 0: |3 - 1| on 12 elements
  EXPECT_DOUBLE_EQ(value, expected);
  const at::Tensor all = world().all_gather(at::tensor({value}, at::kDouble), 0);
  for (int r = 0; r < n; ++r) EXPECT_EQ(all[r].item<double>(), value) << "rank " << r;
}

// Block 0's input and residual (output - input) on this rank, each call.
class ResidualRecorder : public ModelHook {
 public:
  void pre_forward(Module&, Args& args) override {
    input_ = args.tensor("hidden_states");
    inputs.push_back(input_);
  }
  void post_forward(Module&, Outputs& outputs) override { residuals.push_back(outputs.at(0) - input_); }
  std::vector<at::Tensor> inputs, residuals;

 private:
  at::Tensor input_;
};

// What one rank saw when only the pixels of rank 0's first tokens changed (see run_with_one_shard_changing).
struct OneShardChangingRun {
  std::string decisions;        // every block, every step
  std::vector<double> metrics;  // block 0's decision values, steps 1 and 2
  std::vector<double> local_input_changes, local_residual_changes;  // per rank, block 0 at step 1, unreduced
};

// The odd_tokens model split over the whole world with `config`: step 0 on its input, steps 1 and 2 on the input
// with tokens 0-4 (all on rank 0) changed. Checks that the all-reduced metrics are the same on every rank, and
// returns block 0's rank-local relative changes (input and residual) at step 1 as every rank measured them.
OneShardChangingRun run_with_one_shard_changing(const CacheConfig& config) {
  const int n = world().size();
  const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/odd_tokens";
  c10::InferenceMode inference;
  auto model = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
  const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
  const at::Tensor x = inputs.load("hidden_states");  // [1, 4, 3, 6, 10]: tokens (frame, row pair, column pair)
  at::Tensor changed = x.clone();
  changed.index_put_({at::indexing::Slice(), at::indexing::Slice(), 0, at::indexing::Slice(0, 2)}, 5.0);  // tokens 0-4
  auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{n, 1, 1});
  enable_parallelism(*model, model->context_parallel_plan(), mesh);
  enable_cache(*model, config);
  // Sees block 0's local shard (after the plan's split, before the cache's forward) and its output.
  auto recorder = std::make_shared<ResidualRecorder>();
  HookRegistry::get_or_create(model->at("blocks.0")).register_hook("recorder", recorder);
  for (const at::Tensor& input : {x, changed, changed}) {
    (*model)({{"hidden_states", input},
              {"timestep", inputs.load("timestep")},
              {"encoder_hidden_states", inputs.load("encoder_hidden_states")}});
  }
  OneShardChangingRun run;
  for (const CacheRecord& record : cache_records(*model)) {
    run.decisions += "CSF"[static_cast<int>(record.action)];
    if (record.block == 0 && !std::isnan(record.metric)) run.metrics.push_back(record.metric);
  }
  HookRegistry::get_or_create(model->at("blocks.0")).remove_hook("recorder");
  disable_cache(*model);
  disable_parallelism(*model);
  EXPECT_EQ(run.metrics.size(), 2u);
  const at::Tensor all = world().all_gather(at::tensor(run.metrics, at::kDouble).unsqueeze(0), 0);
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < run.metrics.size(); ++i) {
      EXPECT_EQ(all[r][i].item<double>(), run.metrics[i]) << "rank " << r;
    }
  }
  const auto relative_change = [](const std::vector<at::Tensor>& values) {
    return ((values[1] - values[0]).abs().sum() / values[0].abs().sum()).item<double>();
  };
  const at::Tensor locals = world().all_gather(
      at::tensor({relative_change(recorder->inputs), relative_change(recorder->residuals)}, at::kDouble).unsqueeze(0),
      0);
  for (int r = 0; r < n; ++r) {
    run.local_input_changes.push_back(locals[r][0].item<double>());
    run.local_residual_changes.push_back(locals[r][1].item<double>());
  }
  return run;
}

void print_one_shard_run(const char* name, const std::vector<double>& locals, const OneShardChangingRun& run) {
  if (world().rank() != 0) return;
  std::string text;
  for (double local : locals) text += " " + std::to_string(local);
  std::printf("[ %s ] local changes%s, all-reduced %f, decisions %s\n", name, text.c_str(), run.metrics.at(0),
              run.decisions.c_str());
}

// FirstBlockCache: the local first-block residual changes differ by rank (large on rank 0, small elsewhere,
// with the threshold between them); the recorded metric and the decisions are the same on every rank.
TEST(CacheMetric, OneShardChangingAloneGivesOneDecision) {
  constexpr double kThreshold = 0.11;
  const OneShardChangingRun run = run_with_one_shard_changing(FirstBlockCacheConfig{kThreshold});
  ASSERT_EQ(run.metrics.size(), 2u);
  EXPECT_LT(run.metrics[0], kThreshold);
  EXPECT_EQ(run.decisions, "CCCSCS");  // step 1 skips on the global value; step 2 repeats step 1's input
  for (size_t r = 1; r < run.local_residual_changes.size(); ++r) {
    EXPECT_GT(run.local_residual_changes[0], kThreshold);
    EXPECT_LT(run.local_residual_changes[r], kThreshold) << "rank " << r;
  }
  print_one_shard_run("fbc, one shard changing", run.local_residual_changes, run);
}

// TeaCache with the modulated-input indicator: block 0's input shard changes by more than the threshold on
// rank 0 and not at all elsewhere; the all-reduced metric and the decisions are the same on every rank.
TEST(CacheMetric, TeaCacheOneShardChangingAloneGivesOneDecision) {
  const TeaCacheConfig config{0.3, {}, 1, kDefaultCacheBlocks, TeaCacheIndicator::modulated_input};
  const OneShardChangingRun run = run_with_one_shard_changing(config);
  ASSERT_EQ(run.metrics.size(), 2u);
  EXPECT_LT(run.metrics[0], config.threshold);
  EXPECT_EQ(run.decisions, "CCSSSS");  // steps 1 and 2 skip on the global value (step 2 adds a change of 0)
  EXPECT_GT(run.local_input_changes[0], config.threshold);
  for (size_t r = 1; r < run.local_input_changes.size(); ++r) {
    EXPECT_EQ(run.local_input_changes[r], 0.0) << "rank " << r;
  }
  print_one_shard_run("teacache, one shard changing", run.local_input_changes, run);
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// A new sequence length can change the shard of some ranks only (45 -> 44 tokens: 23|22 -> 22|22 at 2 ranks,
// 12|11|11|11 -> 11|11|11|11 at 4, 15|15|15 -> 15|15|14 at 3). The cache must notice collectively: every rank
// computes the step, none waits alone in a collective the others skipped.
TEST(CacheMetric, ShardShapeChangingOnSomeRanksOnlyComputesEverywhere) {
  const int n = world().size();
  const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/odd_tokens";
  c10::InferenceMode inference;
  auto model = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
  const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
  const at::Tensor x = inputs.load("hidden_states");  // [1, 4, 3, 6, 10]: 45 tokens
  at::manual_seed(7);
  const at::Tensor other = at::randn({1, 4, 1, 8, 22});  // 1 x 4 x 11 = 44 tokens
  auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{n, 1, 1});
  enable_parallelism(*model, model->context_parallel_plan(), mesh);
  // FasterCache without a CFG batch: its attention extrapolation checks the shard shape.
  FasterCacheConfig faster;
  faster.is_guidance_distilled = true;
  faster.spatial_attention_block_skip_range = 10;
  faster.current_timestep_callback = [] { return 500.0; };
  for (const CacheConfig& config : {CacheConfig{FirstBlockCacheConfig{1e9}}, CacheConfig{TeaCacheConfig{1e9, {}, 1}},
                                    CacheConfig{TaylorSeerConfig{1, 10, 1}}, CacheConfig{faster},
                                    CacheConfig{DBCacheConfig{.fn_compute_blocks = 1, .residual_diff_threshold = 1e9,
                                                              .max_warmup_steps = 0}},
                                    CacheConfig{DBCacheConfig{.fn_compute_blocks = 1, .residual_diff_threshold = 0.99,
                                                              .max_warmup_steps = 0, .taylorseer_order = 1}}}) {
    SCOPED_TRACE(cache_method_name(config));
    enable_cache(*model, config);
    for (const at::Tensor& input : {x, x, other}) {
      (*model)({{"hidden_states", input},
                {"timestep", inputs.load("timestep")},
                {"encoder_hidden_states", inputs.load("encoder_hidden_states")}});
    }
    std::string decisions;
    for (const CacheRecord& record : cache_records(*model)) {
      if (record.step == 2) decisions += "CSF"[static_cast<int>(record.action)];
    }
    EXPECT_EQ(decisions, "CC");
    disable_cache(*model);
  }
  disable_parallelism(*model);
}


// --stats-json: one document from rank 0 holding every rank's records, and the ranks agree step by step.
TEST(CacheStatsJson, RankZeroWritesEveryRanksIdenticalDecisions) {
  const int n = world().size();
  const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/odd_tokens";
  c10::InferenceMode inference;
  auto model = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
  const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
  auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{n, 1, 1});
  enable_parallelism(*model, model->context_parallel_plan(), mesh);
  enable_cache(*model, FirstBlockCacheConfig{0.5});
  at::Tensor x = inputs.load("hidden_states");
  for (int step = 0; step < 4; ++step) {
    const at::Tensor output = (*model)({{"hidden_states", x},
                                        {"timestep", inputs.load("timestep") * (1.0 - step / 8.0)},
                                        {"encoder_hidden_states", inputs.load("encoder_hidden_states")}})
                                  .at(0);
    x = x - 0.05 * output;
  }
  const std::string document = cache_stats_json(*model, world());
  disable_cache(*model);
  disable_parallelism(*model);
  if (world().rank() != 0) {
    EXPECT_TRUE(document.empty());
    return;
  }
  const auto parsed = nlohmann::json::parse(document);
  EXPECT_EQ(parsed["method"], "first_block_cache");
  EXPECT_EQ(parsed["blocks"], nlohmann::json::array({"blocks.0", "blocks.1"}));
  ASSERT_EQ(parsed["ranks"].size(), static_cast<size_t>(n));
  const auto& first = parsed["ranks"][0]["records"];
  ASSERT_EQ(first.size(), 4u * 2u);  // 4 steps x 2 blocks
  bool skipped_any = false;
  for (const auto& record : first) skipped_any = skipped_any || record["action"] == "skipped";
  EXPECT_TRUE(skipped_any) << document;
  for (const auto& rank : parsed["ranks"]) {
    ASSERT_EQ(rank["records"].size(), first.size());
    for (size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(rank["records"][i]["action"], first[i]["action"]) << "rank " << rank["rank"] << " record " << i;
      EXPECT_EQ(rank["records"][i]["metric"], first[i]["metric"]);
    }
  }
}

}  // namespace
}  // namespace tessera::testing

// One decision on every rank, and the group taken from the model (issue 12), on a model without collectives
// inside (toy_cache_model.h), so that ranks deciding differently show up as different records, not a hang.
namespace tessera::testing {
namespace {

constexpr int kToySteps = 5;

// This rank's recorded actions (one letter per hooked call) after the forwards of steps [from_step, to_step) of
// a slowly changing input [1, 4, 6, 8], the same on every rank; `outputs` receives each step's output.
std::string toy_decisions(ToyCacheModel& model, bool cfg_batch, int from_step = 0, int to_step = kToySteps,
                          std::vector<at::Tensor>* outputs = nullptr) {
  at::Tensor x = at::linspace(-1.0, 1.0, 4 * 6 * 8, at::kFloat).reshape({1, 4, 6, 8});
  for (int step = 0; step < to_step; ++step) {
    // A smooth trajectory: each step moves the input a little, as denoising does.
    const at::Tensor input = x * (1.0 - 0.02 * step) + 0.01 * step;
    if (step < from_step) continue;
    const at::Tensor output = model({{"hidden_states", cfg_batch ? at::cat({input * 0.5, input}) : input}}).at(0);
    if (outputs != nullptr) outputs->push_back(output);
  }
  std::string letters;
  for (const CacheRecord& record : cache_records(model)) letters += "CSF"[static_cast<int>(record.action)];
  return letters;
}

// A setting with which rank 0's cache reuses, and one with which every other rank's computes: ranks that
// decided alone would disagree.
struct SplitSetting {
  std::string name;
  CacheConfig reusing, computing;
};

// gtest names the failing setting instead of dumping its bytes.
void PrintTo(const SplitSetting& setting, std::ostream* out) { *out << setting.name; }

std::vector<SplitSetting> split_settings() {
  TeaCacheConfig tea_reusing{1e9, {}, 1, kDefaultCacheBlocks, TeaCacheIndicator::modulated_input};
  TeaCacheConfig tea_computing = tea_reusing;
  tea_computing.threshold = 0;  // the accumulated change is never below 0
  TaylorSeerConfig taylor_reusing{1, 10, 1};
  TaylorSeerConfig taylor_computing = taylor_reusing;
  taylor_computing.stop_after_step = 0;
  // PAB and FasterCache decide by the timestep: rank 0 sees one inside their ranges, the others one outside.
  PyramidAttentionBroadcastConfig pab_reusing;
  pab_reusing.spatial_attention_block_skip_range = 2;
  pab_reusing.current_timestep_callback = [] { return 500.0; };
  PyramidAttentionBroadcastConfig pab_computing = pab_reusing;
  pab_computing.current_timestep_callback = [] { return 2000.0; };
  FasterCacheConfig faster_reusing;
  faster_reusing.tensor_format = "BCHW";
  faster_reusing.current_timestep_callback = [] { return 500.0; };
  FasterCacheConfig faster_computing = faster_reusing;
  faster_computing.current_timestep_callback = [] { return 2000.0; };
  // DBCache: a threshold >= 1 reuses without measuring, 0 never reuses (neither measures, so no rank waits alone).
  const DBCacheConfig db_reusing{.fn_compute_blocks = 1, .residual_diff_threshold = 1e9, .max_warmup_steps = 1,
                                 .taylorseer_order = 1};
  DBCacheConfig db_computing = db_reusing;
  db_computing.residual_diff_threshold = 0;
  return {{"fbc", FirstBlockCacheConfig{1e9}, FirstBlockCacheConfig{0.0}},
          {"dbcache", db_reusing, db_computing},
          {"teacache", tea_reusing, tea_computing},
          {"taylorseer", taylor_reusing, taylor_computing},
          {"pab", pab_reusing, pab_computing},
          {"fastercache", faster_reusing, faster_computing}};
}

class OneDecisionOnEveryRank : public ::testing::TestWithParam<SplitSetting> {};

TEST_P(OneDecisionOnEveryRank, RankDependentSettingsStillGiveOneDecision) {
  const int n = world().size();
  c10::InferenceMode inference;
  const CacheConfig& mine = world().rank() == 0 ? GetParam().reusing : GetParam().computing;
  const bool cfg_batch = std::holds_alternative<FasterCacheConfig>(mine);
  // The group comes from the model whichever is enabled first.
  for (const bool cache_first : {false, true}) {
    SCOPED_TRACE(cache_first ? "cache enabled before parallelism" : "parallelism enabled before the cache");
    ToyCacheModel model(3);
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{n, 1, 1});
    if (cache_first) enable_cache(model, mine);
    enable_parallelism(model, ToyCacheModel::plan(), mesh);
    if (!cache_first) enable_cache(model, mine);
    const std::string decisions = toy_decisions(model, cfg_batch);
    for (const std::string& other : gather_decisions(decisions)) EXPECT_EQ(other, decisions);
    if (n == 1) {
      // Alone, rank 0 follows its setting, which reuses: the test can tell reuse from compute.
      EXPECT_NE(decisions.find_first_of("SF"), std::string::npos) << decisions;
    } else {
      // A rank that must compute makes every rank compute.
      EXPECT_EQ(decisions.find_first_of("SF"), std::string::npos) << decisions;
    }
    disable_cache(model);
    disable_parallelism(model);
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, OneDecisionOnEveryRank, ::testing::ValuesIn(split_settings()),
                         [](const ::testing::TestParamInfo<SplitSetting>& info) { return info.param.name; });

// The cache keeps no communicator: after disable_parallelism frees the mesh it decides alone, after a new
// enable_parallelism it decides over the new group, and its outputs equal the same cache on one rank.
TEST(CacheGroup, FollowsTheModelsParallelismAndOutlivesNone) {
  const int n = world().size();
  c10::InferenceMode inference;
  const FirstBlockCacheConfig config{0.1};  // the toy's first-block change per step is about 0.025
  // Phases: [0, 2) parallel, [2, 4) alone, [4, kToySteps) parallel over another mesh; each a new generation.
  const int phases[][2] = {{0, 2}, {2, 4}, {4, kToySteps}};
  ToyCacheModel alone(3);
  enable_cache(alone, config);
  std::vector<at::Tensor> expected;
  std::string expected_decisions;
  for (const auto& phase : phases) {
    reset_cache(alone);
    expected_decisions += toy_decisions(alone, false, phase[0], phase[1], &expected) + "|";
  }
  ASSERT_NE(expected_decisions.find('S'), std::string::npos) << expected_decisions;

  ToyCacheModel model(3);
  enable_cache(model, config);
  auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{n, 1, 1});
  const std::weak_ptr<DeviceMesh> first_mesh = mesh;
  enable_parallelism(model, ToyCacheModel::plan(), std::move(mesh));
  std::vector<at::Tensor> outputs;
  std::string decisions = toy_decisions(model, false, phases[0][0], phases[0][1], &outputs) + "|";
  EXPECT_EQ(cache_session(model)->cp_group() != nullptr, n > 1);

  disable_parallelism(model);
  EXPECT_TRUE(first_mesh.expired()) << "the cache still holds the mesh that disable_parallelism released";
  EXPECT_TRUE(cache_session(model)->cp_group() == nullptr);
  reset_cache(model);
  decisions += toy_decisions(model, false, phases[1][0], phases[1][1], &outputs) + "|";

  enable_parallelism(model, ToyCacheModel::plan(),
                     std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{1, n, 1}));
  if (n > 1) {
    ASSERT_NE(cache_session(model)->cp_group(), nullptr);
    EXPECT_EQ(cache_session(model)->cp_group()->size(), n);
  }
  reset_cache(model);
  decisions += toy_decisions(model, false, phases[2][0], phases[2][1], &outputs) + "|";
  disable_parallelism(model);

  EXPECT_EQ(decisions, expected_decisions);
  for (const std::string& other : gather_decisions(decisions)) EXPECT_EQ(other, decisions);
  ASSERT_EQ(outputs.size(), expected.size());
  for (size_t step = 0; step < outputs.size(); ++step) {
    EXPECT_TRUE(close_relative_to_scale(outputs[step], expected[step])) << "step " << step;
  }
}

}  // namespace
}  // namespace tessera::testing

// PAB and FasterCache decide at every attention call, but collectively only once per forward while every rank
// sees its inputs keep their shapes and one timestep (forward_agreement.h): the first forward of a context
// decides each call together, the later ones take a single all-reduce, and the decisions stay those of one rank.
namespace tessera::testing {
namespace {

TEST(CacheGroup, AttentionCachesReduceOncePerForwardOnceShapesSettle) {
  const int n = world().size();
  c10::InferenceMode inference;
  PyramidAttentionBroadcastConfig pab;
  pab.spatial_attention_block_skip_range = 2;
  pab.current_timestep_callback = [] { return 500.0; };
  FasterCacheConfig faster;
  faster.is_guidance_distilled = true;
  faster.spatial_attention_block_skip_range = 3;
  faster.current_timestep_callback = [] { return 500.0; };
  for (const CacheConfig& config : {CacheConfig{pab}, CacheConfig{faster}}) {
    SCOPED_TRACE(cache_method_name(config));
    ToyCacheModel alone(3);
    enable_cache(alone, config);
    const std::string expected = toy_decisions(alone, false);
    ASSERT_NE(expected.find('S'), std::string::npos) << expected;

    ToyCacheModel model(3);
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{n, 1, 1});
    Communicator& group = mesh->context_parallel();
    enable_parallelism(model, ToyCacheModel::plan(), mesh);
    enable_cache(model, config);
    group.reset_stats();
    const std::string decisions = toy_decisions(model, false);
    EXPECT_EQ(decisions, expected);
    const auto found = group.stats().find("all_reduce");
    const int64_t all_reduces = found == group.stats().end() ? 0 : found->second.calls;
    // n > 1: the first forward agrees once and then decides its 3 calls together; the other 4 agree once each.
    EXPECT_EQ(all_reduces, n > 1 ? (1 + 3) + (kToySteps - 1) : 0) << decisions;
    disable_cache(model);
    disable_parallelism(model);
  }
}

}  // namespace
}  // namespace tessera::testing
