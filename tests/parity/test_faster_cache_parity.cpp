// FasterCache against diffusers' apply_faster_cache (scripts/fixtures/faster_cache.py): the same denoising loop
// with classifier-free guidance as one batch [uncond, cond], uncached and cached, ends at diffusers' latents.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "cache/enable_cache.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/schedulers/flow_match_euler_discrete.h"

namespace tessera::testing {
namespace {

class FasterCacheParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/faster_cache/" + GetParam();
    std::ifstream file(dir + "/case.json");
    settings_ = nlohmann::json::parse(file);
    model_ = load_model(std::string(TESSERA_FIXTURES_DIR) + "/" + settings_["model"].get<std::string>(), at::kFloat,
                        c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    latents_ = inputs.load("latents");
    prompt_ = inputs.load("prompt_embeds");
    negative_ = inputs.load("negative_prompt_embeds");
    expected_ = std::make_unique<io::SafetensorsFile>(dir + "/expected.safetensors");
  }

  FasterCacheConfig cache_config() const {
    const auto& cache = settings_["faster_cache"];
    FasterCacheConfig config;
    config.spatial_attention_block_skip_range = cache["spatial_attention_block_skip_range"];
    config.spatial_attention_timestep_skip_range = cache["spatial_attention_timestep_skip_range"];
    config.unconditional_batch_skip_range = cache["unconditional_batch_skip_range"];
    config.unconditional_batch_timestep_skip_range = cache["unconditional_batch_timestep_skip_range"];
    const double weight = cache["attention_weight"];
    config.attention_weight_callback = [weight](const std::string&) { return weight; };
    return config;
  }

  at::Tensor denoise() {
    FlowMatchEulerDiscreteConfig scheduler_config;
    scheduler_config.shift = settings_["scheduler_shift"];
    FlowMatchEulerDiscreteScheduler scheduler(scheduler_config);
    const int steps = settings_["steps"];
    const double guidance = settings_["guidance_scale"];
    scheduler.set_timesteps(steps);
    at::Tensor sample = latents_;
    for (int i = 0; i < steps; ++i) {
      const double t = scheduler.timesteps()[i].item<double>();
      if (cache_enabled(*model_)) set_cache_timestep(*model_, t);
      const at::Tensor both = (*model_)({{"hidden_states", at::cat({sample, sample})},
                                         {"timestep", at::full({2 * sample.size(0)}, t, at::kFloat)},
                                         {"encoder_hidden_states", at::cat({negative_, prompt_})}})
                                  .at(0);
      const auto halves = both.chunk(2, 0);
      sample = scheduler.step(halves[0] + guidance * (halves[1] - halves[0]), t, sample);
    }
    return sample;
  }

  c10::InferenceMode inference_;
  nlohmann::json settings_;
  std::shared_ptr<Model> model_;
  at::Tensor latents_, prompt_, negative_;
  std::unique_ptr<io::SafetensorsFile> expected_;
};

TEST_P(FasterCacheParity, UncachedLoopMatchesDiffusers) {
  EXPECT_TRUE(close_relative_to_scale(denoise(), expected_->load("latents_uncached")));
}

TEST_P(FasterCacheParity, CachedLoopMatchesDiffusers) {
  enable_cache(*model_, cache_config());
  const at::Tensor cached = denoise();
  int64_t reused_attention = 0, rebuilt_uncond = 0;
  const auto session = cache_session(*model_);
  for (const CacheRecord& record : cache_records(*model_)) {
    if (record.action != BlockAction::skipped) continue;
    (record.block == session->num_blocks() - 1 ? rebuilt_uncond : reused_attention) += 1;
  }
  disable_cache(*model_);
  // Both parts of FasterCache acted, and the result is not the uncached one, so the comparison means something.
  EXPECT_GT(reused_attention, 0);
  EXPECT_GT(rebuilt_uncond, 0);
  const at::Tensor uncached = expected_->load("latents_uncached");
  EXPECT_FALSE(close_relative_to_scale(cached, uncached, 1e-3));
  EXPECT_TRUE(close_relative_to_scale(cached, expected_->load("latents_faster_cache")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FasterCacheParity, ::testing::Values("odd_tokens", "temporal_patch"));

}  // namespace
}  // namespace tessera::testing
