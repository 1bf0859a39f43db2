#pragma once
// Generates the judge's fixed prompt set (judge_scenes) with a pipeline and judges every output: the number
// the embedded model is held to (tests, the cache study, the README).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/pipelines/denoise_loop.h"
#include "src/shapes/shapes_judge.h"

namespace tessera {
class Pipeline;
}

namespace tessera::shapes {

struct JudgedPrompt {
  std::string prompt;
  Verdict verdict;
  at::Tensor frames;  // uint8 [frames, height, width, 3]
  double seconds = 0;
};

struct JudgeRun {
  std::vector<JudgedPrompt> prompts;
  int64_t right = 0;
  double seconds = 0;  // all generations
  double rate() const { return prompts.empty() ? 0.0 : static_cast<double>(right) / prompts.size(); }
};

// Every prompt of judge_scenes() with `seed` (the same for all), the pipeline's defaults otherwise (`steps`
// overrides); `loop` carries the guidance mode and CFG group. Whatever parallelism and cache the pipeline's
// transformer has enabled apply. `on_prompt` is called after each generation.
JudgeRun run_judge(Pipeline& pipeline, const DenoiseOptions& loop, uint64_t seed,
                   std::optional<int> steps = std::nullopt,
                   const std::function<void(const JudgedPrompt&, int64_t done, int64_t total)>& on_prompt = {});

}  // namespace tessera::shapes
