// TextKVCache against diffusers' (scripts/fixtures/text_kv_cache.py): tessera's loop on the tiny Wan pipeline's
// transformer, with the text keys and values reused from the first step on, gives diffusers' prediction at every
// forward of every step (cond then uncond) and its final latents.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cache/text_kv_cache.h"
#include "common/check.h"
#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/models/model.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/scheduler.h"
#include "src/schedulers/scheduler_config.h"

namespace tessera::testing {
namespace {

TEST(TextKVCacheParity, EveryStepMatchesDiffusersHook) {
  c10::InferenceMode inference;
  const std::string dir = detail::concat(TESSERA_FIXTURES_DIR, "/text_kv_cache");
  const auto model = load_model(detail::concat(TESSERA_FIXTURES_DIR, "/wan_pipeline/pipeline/transformer"), at::kFloat,
                                c10::Device(c10::kCPU));
  const io::SafetensorsFile inputs(detail::concat(dir, "/inputs.safetensors"));
  const io::SafetensorsFile expected(detail::concat(dir, "/expected.safetensors"));
  const auto scheduler = load_scheduler(detail::concat(dir, "/scheduler"));
  enable_text_kv_cache(*model);

  std::vector<at::Tensor> predictions;
  DenoiseInputs denoise_inputs{inputs.load("latents"), inputs.load("prompt_embeds"),
                               inputs.load("negative_prompt_embeds")};
  denoise_inputs.predict = [&predictions](Model& m, const at::Tensor& latents, double t, const at::Tensor& text) {
    predictions.push_back(predict_as_is(m, latents, t, text));
    return predictions.back();
  };
  DenoiseOptions options;
  options.steps = 5;
  options.guidance_scale = 5.0;
  options.guidance_mode = GuidanceMode::sequential;
  const at::Tensor latents = denoise(*model, *scheduler, denoise_inputs, options);

  const at::Tensor reference = expected.load("predictions");
  ASSERT_EQ(static_cast<int64_t>(predictions.size()), reference.size(0));
  for (size_t i = 0; i < predictions.size(); ++i) {
    EXPECT_TRUE(close_relative_to_scale(predictions[i], reference[static_cast<int64_t>(i)]))
        << "step " << i / 2 << (i % 2 == 0 ? " cond" : " uncond");
  }
  EXPECT_TRUE(close_relative_to_scale(latents, expected.load("latents")));
  // Each branch's keys and values were computed once per block (2 blocks), and its text embedding once, and
  // reused at the 4 later steps.
  const TextKVCacheStats stats = text_kv_cache_stats(*model);
  EXPECT_EQ(stats.misses, 2 * (2 + 1));
  EXPECT_EQ(stats.hits, 2 * (2 + 1) * 4);
  EXPECT_EQ(stats.entries, 2 * (2 + 1));
}

}  // namespace
}  // namespace tessera::testing
