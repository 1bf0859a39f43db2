#include "measure/model_cache_study.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "src/models/model.h"
#include "src/pipelines/pipeline.h"
#include "src/shapes/judge_run.h"

namespace tessera {

ModelCacheStudyOptions default_model_cache_study_options() {
  ModelCacheStudyOptions options;
  options.caches = {"fbc:threshold=0.05",  "fbc:threshold=0.1",  "fbc:threshold=0.2",
                    "teacache:indicator=modulated_input,coefficients=none,threshold=0.1",
                    "taylorseer:order=1,interval=2", "taylorseer:order=2,interval=3",
                    "pab:spatial_skip=2", "fastercache",
                    "magcache:threshold=0.1", "magcache:threshold=0.25",
                    "seacache:threshold=0.25", "seacache:threshold=0.5",
                    // The embedded model has 4 blocks: Fn 1 leaves 3 to reuse.
                    "dbcache:fn=1,threshold=0.1,warmup=2", "dbcache:fn=1,threshold=0.2,warmup=2,max_continuous=3",
                    "dbcache:fn=1,threshold=0.2,warmup=2,max_continuous=3,taylorseer_order=1"};
  return options;
}

std::vector<CacheStudyPoint> run_model_cache_study(Pipeline& pipeline, const ModelCacheStudyOptions& options) {
  c10::InferenceMode inference;
  // Every transformer the pipeline denoises with gets the cache (a two-expert pipeline's each its own).
  const auto& transformers = pipeline.transformers();
  std::vector<std::string> runs{"none"};
  runs.insert(runs.end(), options.caches.begin(), options.caches.end());
  std::vector<at::Tensor> reference;
  std::vector<CacheStudyPoint> points;
  DenoiseOptions loop;  // automatic guidance mode: FasterCache gets its [uncond, cond] batch
  // One untimed prompt first: the first generation pays for allocator growth and thread-pool start.
  GenerationRequest warm_up;
  warm_up.prompt = shapes::caption(shapes::judge_scenes().front());
  warm_up.steps = 2;
  pipeline.generate(pipeline.resolve(warm_up), loop);
  for (const auto& spec : runs) {
    if (spec != "none") {
      const CacheConfig config = parse_cache_spec(spec);
      for (const PipelineTransformer& transformer : transformers) enable_cache(*transformer.model, config);
    }
    CacheStudyPoint point;
    point.cache = spec;
    double evaluations = 0;
    const shapes::JudgeRun run = shapes::run_judge(
        pipeline, loop, options.seed, options.steps, [&](const shapes::JudgedPrompt&, int64_t, int64_t) {
          if (spec == "none") return;
          for (const PipelineTransformer& transformer : transformers) {
            for (const auto& record : cache_records(*transformer.model)) {
              (record.action == BlockAction::computed ? point.computed
               : record.action == BlockAction::skipped ? point.skipped
                                                       : point.forecast) += 1.0;
              evaluations += 1.0;
            }
          }
        });
    if (spec == "none") {
      point.computed = 1;
      for (const auto& judged : run.prompts) reference.push_back(judged.frames.to(at::kFloat));
    } else {
      point.computed /= evaluations;
      point.skipped /= evaluations;
      point.forecast /= evaluations;
      for (const PipelineTransformer& transformer : transformers) disable_cache(*transformer.model);
    }
    double squared = 0, count = 0;
    for (size_t i = 0; i < run.prompts.size(); ++i) {
      const at::Tensor difference = run.prompts[i].frames.to(at::kFloat) - reference[i];
      squared += difference.pow(2).sum().item<double>();
      count += static_cast<double>(reference[i].numel());
      point.max_abs_error = std::max(point.max_abs_error, difference.abs().max().item<double>() / 255.0);
    }
    const double mse = squared / count;
    point.psnr_db = mse == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(255.0 * 255.0 / mse);
    point.seconds = run.seconds;
    point.judge_rate = run.rate();
    points.push_back(point);
  }
  return points;
}

std::string model_cache_study_json(const std::string& model_dir, const ModelCacheStudyOptions& options,
                                   const std::vector<CacheStudyPoint>& points) {
  nlohmann::json document;
  document["benchmark"] = "cache_study_trained_model";
  document["model"] = model_dir;
  document["prompts"] = shapes::judge_scenes().size();
  document["steps"] = options.steps;
  document["seed"] = options.seed;
  document["guidance"] = {{"mode", "automatic (batch for FasterCache, else sequential)"}};
  add_cache_study_results(document, points);
  return document.dump(2) + "\n";
}

}  // namespace tessera
