#include "src/shapes/judge_run.h"

#include <chrono>

#include "src/pipelines/pipeline.h"

namespace tessera::shapes {

JudgeRun run_judge(Pipeline& pipeline, const DenoiseOptions& loop, uint64_t seed, std::optional<int> steps,
                   const std::function<void(const JudgedPrompt&, int64_t, int64_t)>& on_prompt) {
  const std::vector<Scene> scenes = judge_scenes();
  JudgeRun run;
  for (const Scene& scene : scenes) {
    GenerationRequest request;
    request.prompt = caption(scene);
    request.seed = seed;
    request.steps = steps;
    const Generation generation = pipeline.resolve(request);
    const auto start = std::chrono::steady_clock::now();
    JudgedPrompt judged;
    judged.prompt = request.prompt;
    judged.frames = pipeline.generate(generation, loop);
    judged.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    judged.verdict = judge(judged.frames, scene);
    run.right += judged.verdict.correct ? 1 : 0;
    run.seconds += judged.seconds;
    run.prompts.push_back(std::move(judged));
    if (on_prompt) on_prompt(run.prompts.back(), static_cast<int64_t>(run.prompts.size()), static_cast<int64_t>(scenes.size()));
  }
  return run;
}

}  // namespace tessera::shapes
