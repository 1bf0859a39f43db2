#pragma once
// The cache study: the same denoising loop (flow-matching Euler, CFG) on a fixed random Wan model, uncached and
// under each cache setting; for each, wall time, the share of block evaluations computed / skipped /
// forecast, and the quality of the final latent against the uncached one (PSNR and max error).
#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

#include "src/models/wan/wan_config.h"

namespace tessera {

struct CacheStudyOptions {
  WanConfig model;             // random weights from `seed`
  std::vector<int64_t> latent{1, 16, 4, 16, 16};
  int64_t text_length = 32;
  int steps = 20;
  int repeat = 3;  // runs per setting; the median time is reported
  double flow_shift = 3.0;
  double guidance_scale = 5.0;
  int64_t seed = 0;
  std::vector<std::string> caches;  // --cache specs; the uncached run is always first
};

struct CacheStudyPoint {
  std::string cache;  // "none" for the reference run
  double seconds = 0;
  double computed = 0, skipped = 0, forecast = 0;  // shares of block evaluations
  double psnr_db = 0;                               // against the uncached final latent (inf when equal)
  double max_abs_error = 0;                         // relative to the uncached latent's max abs
  std::optional<double> judge_rate;                 // the trained-model study (model_cache_study.h) only
};

CacheStudyOptions default_cache_study_options();
std::vector<CacheStudyPoint> run_cache_study(const CacheStudyOptions& options);
std::string cache_study_json(const CacheStudyOptions& options, const std::vector<CacheStudyPoint>& points);
// The rows of either study: "results" of `document`, and the table printed (a judge column when rated).
void add_cache_study_results(nlohmann::json& document, const std::vector<CacheStudyPoint>& points);
std::string cache_study_table(const std::vector<CacheStudyPoint>& points);

}  // namespace tessera
