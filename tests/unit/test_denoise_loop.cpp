// The denoising loop on one rank, on the Wan fixture model and the denoise fixtures' inputs: progress reports,
// guidance modes, the cache contexts it opens, and the combinations it refuses before step 0.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "cache/enable_cache.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/scheduler_config.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

const std::string kFixtures = TESSERA_TEST_FIXTURES_DIR;

class DenoiseLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load_model(kFixtures + "/wan/uneven_rope", at::kFloat, c10::Device(c10::kCPU));
    scheduler_ = load_scheduler(kFixtures + "/denoise/unipc_cfg5/scheduler");
    const io::SafetensorsFile file(kFixtures + "/denoise/unipc_cfg5/inputs.safetensors");
    inputs_ = {file.load("latents"), file.load("prompt_embeds"), file.load("negative_prompt_embeds")};
  }

  at::Tensor run(const DenoiseOptions& options) { return denoise(*model_, *scheduler_, inputs_, options); }

  std::vector<std::string> contexts() {
    std::vector<std::string> names;
    for (const CacheRecord& record : cache_records(*model_)) {
      if (record.block == 0) names.push_back(record.context + " " + std::to_string(record.step));
    }
    return names;
  }

  c10::InferenceMode inference_;
  std::shared_ptr<Model> model_;
  std::unique_ptr<Scheduler> scheduler_;
  DenoiseInputs inputs_;
};

DenoiseOptions options_with(int steps, double guidance_scale, GuidanceMode mode = GuidanceMode::automatic) {
  DenoiseOptions options;
  options.steps = steps;
  options.guidance_scale = guidance_scale;
  options.guidance_mode = mode;
  return options;
}

TEST(GuidanceMode, ParsesTheThreeNamesAndRefusesOthers) {
  EXPECT_EQ(parse_guidance_mode("auto"), GuidanceMode::automatic);
  EXPECT_EQ(parse_guidance_mode("sequential"), GuidanceMode::sequential);
  EXPECT_EQ(parse_guidance_mode("batch"), GuidanceMode::batch);
  EXPECT_TRUE(has(message_of([] { parse_guidance_mode("parallel"); }), "use auto, sequential or batch"));
}

TEST_F(DenoiseLoop, ReportsEveryStepWithItsTimestep) {
  DenoiseOptions options = options_with(4, 5.0);
  std::vector<DenoiseProgress> reports;
  options.on_step = [&](const DenoiseProgress& progress) { reports.push_back(progress); };
  run(options);
  ASSERT_EQ(reports.size(), 4u);
  for (int64_t step = 0; step < 4; ++step) {
    EXPECT_EQ(reports[step].step, step);
    EXPECT_EQ(reports[step].total, 4);
    EXPECT_EQ(reports[step].timestep, scheduler_->timesteps()[step].item<double>());
    EXPECT_GE(reports[step].seconds, 0.0);
  }
}

TEST_F(DenoiseLoop, WithoutGuidanceIgnoresTheNegativeEmbeddings) {
  const at::Tensor with_negative = run(options_with(3, 1.0));
  inputs_.negative_prompt_embeds = at::Tensor();
  const at::Tensor without_negative = run(options_with(3, 1.0));
  EXPECT_TRUE(at::equal(with_negative, without_negative));
}

TEST_F(DenoiseLoop, BatchGuidanceEqualsSequentialGuidance) {
  const at::Tensor sequential = run(options_with(3, 5.0, GuidanceMode::sequential));
  const at::Tensor batch = run(options_with(3, 5.0, GuidanceMode::batch));
  EXPECT_LE((batch - sequential).abs().max().item<double>(), 1e-5 * sequential.abs().max().item<double>());
  EXPECT_FALSE(at::equal(sequential, run(options_with(3, 1.0))));  // guidance changed the result
}

TEST_F(DenoiseLoop, OpensOneCacheContextPerBranch) {
  enable_cache(*model_, FirstBlockCacheConfig{0.0});
  run(options_with(2, 5.0, GuidanceMode::sequential));
  EXPECT_EQ(contexts(), (std::vector<std::string>{"cond 0", "uncond 0", "cond 1", "uncond 1"}));
  reset_cache(*model_);
  run(options_with(2, 5.0, GuidanceMode::batch));
  EXPECT_EQ(contexts(), (std::vector<std::string>{"cond_uncond 0", "cond_uncond 1"}));
  reset_cache(*model_);
  run(options_with(2, 1.0));
  EXPECT_EQ(contexts(), (std::vector<std::string>{"cond 0", "cond 1"}));
}

// Each denoise call is a new generation: after another generation on the same model, the cache gives what it
// gives on a fresh model, record for record (no reference, residual, counter or record carried over).
TEST_F(DenoiseLoop, SecondGenerationEqualsAFreshModels) {
  DenoiseInputs other = inputs_;
  other.latents = inputs_.latents.flip(-1) * 0.5;
  const auto actions = [](const std::vector<CacheRecord>& records) {
    std::vector<std::string> lines;
    for (const CacheRecord& record : records) {
      lines.push_back(record.context + " " + std::to_string(record.step) + " " + std::to_string(record.block) + " " +
                      to_string(record.action));
    }
    return lines;
  };
  for (const CacheConfig& config : {CacheConfig{FirstBlockCacheConfig{0.2}}, CacheConfig{TaylorSeerConfig{1, 2, 1}}}) {
    SCOPED_TRACE(cache_method_name(config));
    auto fresh = load_model(kFixtures + "/wan/uneven_rope", at::kFloat, c10::Device(c10::kCPU));
    enable_cache(*fresh, config);
    const at::Tensor expected = denoise(*fresh, *scheduler_, inputs_, options_with(4, 5.0));
    const auto expected_actions = actions(cache_records(*fresh));
    bool reused = false;
    for (const CacheRecord& record : cache_records(*fresh)) reused = reused || record.action != BlockAction::computed;
    ASSERT_TRUE(reused) << "the setting must reuse something, else stale state could not show";

    enable_cache(*model_, config);
    denoise(*model_, *scheduler_, other, options_with(4, 5.0));  // another generation first
    const at::Tensor second = run(options_with(4, 5.0));
    EXPECT_TRUE(at::equal(second, expected));
    EXPECT_EQ(actions(cache_records(*model_)), expected_actions);
    disable_cache(*model_);
  }
}

// One model per step (Wan2.2's experts): each step runs the model it is given with its guidance scale, and each
// model's cache is its own, so the second model's first step is its step 0 and computes.
TEST_F(DenoiseLoop, RunsEachStepsModelWithItsScaleAndCache) {
  auto second = load_model(kFixtures + "/wan/uneven_rope", at::kFloat, c10::Device(c10::kCPU));  // same weights
  scheduler_->set_timesteps(4);
  const double boundary = scheduler_->timesteps()[2].item<double>();  // steps 0 and 1 above it
  const auto switching = [&](Model* high, Model* low) {
    return DenoiseModels{.models = {high, low}, .for_step = [=](double t) {
                           return t > boundary ? StepModel{high, 5.0} : StepModel{low, 2.0};
                         }};
  };
  const DenoiseOptions options = options_with(4, 5.0, GuidanceMode::sequential);
  const at::Tensor one_model = denoise(switching(model_.get(), model_.get()), *scheduler_, inputs_, options);
  const at::Tensor two_models = denoise(switching(model_.get(), second.get()), *scheduler_, inputs_, options);
  EXPECT_TRUE(at::equal(two_models, one_model));
  EXPECT_FALSE(at::equal(two_models, run(options)));  // the second scale was used

  for (Model* model : {static_cast<Model*>(model_.get()), static_cast<Model*>(second.get())}) {
    enable_cache(*model, FirstBlockCacheConfig{1.0});  // reuse whenever there is a reference
  }
  denoise(switching(model_.get(), second.get()), *scheduler_, inputs_, options);
  const auto first_block = [](Model& model) {
    std::vector<std::string> lines;
    for (const CacheRecord& record : cache_records(model)) {
      if (record.block != 1) continue;  // FirstBlockCache always computes block 0
      lines.push_back(record.context + " " + std::to_string(record.step) + " " + to_string(record.action));
    }
    return lines;
  };
  const std::vector<std::string> expected = {"cond 0 computed", "uncond 0 computed", "cond 1 skipped",
                                             "uncond 1 skipped"};
  EXPECT_EQ(first_block(*model_), expected);
  EXPECT_EQ(first_block(*second), expected);

  const DenoiseModels stray{.models = {model_.get()},
                            .for_step = [&](double) { return StepModel{second.get(), 5.0}; }};
  EXPECT_TRUE(has(message_of([&] { denoise(stray, *scheduler_, inputs_, options_with(2, 5.0)); }),
                  "got a model that is not one of the generation's"));
}

TEST_F(DenoiseLoop, AutomaticModeBatchesForFasterCache) {
  enable_cache(*model_, FasterCacheConfig{});
  const at::Tensor latents = run(options_with(3, 5.0));
  EXPECT_TRUE(at::isfinite(latents).all().item<bool>());
  std::set<std::string> names;
  for (const CacheRecord& record : cache_records(*model_)) names.insert(record.context);
  EXPECT_EQ(names, std::set<std::string>{"cond_uncond"});
  EXPECT_TRUE(has(message_of([&] { run(options_with(3, 5.0, GuidanceMode::sequential)); }),
                  "faster_cache rebuilds the unconditional branch"));
  EXPECT_TRUE(has(message_of([&] { run(options_with(3, 1.0)); }), "needs a guidance scale > 1"));
}

TEST_F(DenoiseLoop, RefusesWhatItCannotComputeBeforeTheFirstStep) {
  int calls = 0;
  DenoiseOptions options = options_with(3, 5.0);
  options.on_step = [&](const DenoiseProgress&) { ++calls; };
  const at::Tensor negative = inputs_.negative_prompt_embeds;

  inputs_.negative_prompt_embeds = at::Tensor();
  EXPECT_TRUE(has(message_of([&] { run(options); }), "needs negative_prompt_embeds"));
  inputs_.negative_prompt_embeds = negative.narrow(1, 0, 3);
  options.guidance_mode = GuidanceMode::batch;
  EXPECT_TRUE(has(message_of([&] { run(options); }), "must have the same length"));
  options.guidance_mode = GuidanceMode::sequential;
  EXPECT_NO_THROW(run(options));  // two forwards take embeddings of different lengths
  calls = 0;

  inputs_.negative_prompt_embeds = negative.narrow(0, 0, 1);
  EXPECT_TRUE(has(message_of([&] { run(options); }), "with the latents' batch 2"));
  inputs_.negative_prompt_embeds = negative;
  EXPECT_TRUE(has(message_of([&] { run(options_with(0, 5.0)); }), "at least 1"));
  // NaN fails every comparison, so it used to run as "no guidance"; a negative scale steers towards the negative.
  for (const double scale : {std::nan(""), -1.0, HUGE_VAL}) {
    EXPECT_TRUE(has(message_of([&] { run(options_with(3, scale)); }), "the guidance scale must be a finite number"))
        << scale;
  }
  inputs_.latents = inputs_.latents.flatten(2);
  EXPECT_TRUE(has(message_of([&] { run(options); }), "latents must be [batch, channels, frames, height, width]"));
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace tessera
