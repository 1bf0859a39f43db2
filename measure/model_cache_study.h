#pragma once
// The cache study on a trained model (the embedded default model): the judge's prompt set generated uncached
// and under each cache setting; per setting the wall time, the share of block evaluations computed / skipped
// / forecast, the PSNR of the frames against the uncached frames, and the judge's rate. Random weights flatter
// or punish caches unpredictably; a trained model that draws what it is asked is the honest measure.
#include <string>
#include <vector>

#include "measure/cache_study.h"

namespace tessera {

class Pipeline;

struct ModelCacheStudyOptions {
  std::vector<std::string> caches;  // --cache specs; the uncached run is always first
  int steps = 20;
  uint64_t seed = 0;
};

ModelCacheStudyOptions default_model_cache_study_options();
// Per setting: seconds for all prompts, shares of block evaluations, PSNR of every prompt's frames (uint8)
// against the uncached ones, max error relative to 255, and the judge's rate. Print with cache_study_table.
std::vector<CacheStudyPoint> run_model_cache_study(Pipeline& pipeline, const ModelCacheStudyOptions& options);
std::string model_cache_study_json(const std::string& model_dir, const ModelCacheStudyOptions& options,
                                   const std::vector<CacheStudyPoint>& points);

}  // namespace tessera
