#include "measure/cache_study.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "common/check.h"
#include "src/models/wan/wan_transformer.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/flow_match_euler_discrete.h"

namespace tessera {
namespace {

// Classifier-free guidance as one batch [uncond, cond] for every run, so that FasterCache (which needs that
// batch) and the other caches are timed on the same work.
at::Tensor denoise_with_flow_match(WanTransformer3DModel& model, const DenoiseInputs& inputs,
                                   const CacheStudyOptions& study) {
  FlowMatchEulerDiscreteConfig config;
  config.shift = study.flow_shift;
  FlowMatchEulerDiscreteScheduler scheduler(config);
  DenoiseOptions options;
  options.steps = study.steps;
  options.guidance_scale = study.guidance_scale;
  options.guidance_mode = GuidanceMode::batch;
  return denoise(model, scheduler, inputs, options);
}

}  // namespace

CacheStudyOptions default_cache_study_options() {
  CacheStudyOptions options;
  options.model.num_attention_heads = 4;
  options.model.attention_head_dim = 64;
  options.model.in_channels = options.model.out_channels = 16;
  options.model.text_dim = 64;
  options.model.freq_dim = 64;
  options.model.ffn_dim = 1024;
  options.model.num_layers = 8;
  // TeaCache without rescaling: the reference's polynomials are fitted to the real Wan weights, not these.
  options.caches = {"fbc:threshold=0.02",
                    "fbc:threshold=0.05",
                    "fbc:threshold=0.1",
                    "fbc:threshold=0.2",
                    "teacache:coefficients=none,threshold=0.2",
                    "teacache:coefficients=none,threshold=0.4",
                    "teacache:coefficients=none,threshold=0.8",
                    "teacache:indicator=modulated_input,coefficients=none,warmup=1,threshold=0.1",
                    "teacache:indicator=modulated_input,coefficients=none,warmup=1,threshold=0.2",
                    "taylorseer:order=1,interval=2",
                    "taylorseer:order=2,interval=3",
                    "taylorseer:order=2,interval=5",
                    "taylorseer:order=2,interval=3,forecast=output",
                    "pab:spatial_skip=2",
                    "pab:spatial_skip=3,cross_skip=3",
                    "fastercache",
                    "fastercache:uncond_skip=3,uncond_range=-1-901,spatial_range=-1-901",
                    // MagCache with Wan2.1-1.3B's published ratios (the toy model's own would need calibrating).
                    "magcache:threshold=0.06",
                    "magcache:threshold=0.2",
                    "seacache",
                    "seacache:threshold=0.5",
                    "dbcache:fn=1,threshold=0.08,warmup=3",
                    "dbcache:fn=1,threshold=0.2,warmup=3,max_continuous=3",
                    "dbcache:fn=1,threshold=0.2,warmup=3,max_continuous=3,taylorseer_order=1"};
  return options;
}

std::vector<CacheStudyPoint> run_cache_study(const CacheStudyOptions& options) {
  c10::InferenceMode inference;
  at::globalContext().setFlushDenormal(true);
  at::manual_seed(options.seed);
  WanTransformer3DModel model(options.model);
  model.eval();
  const at::Tensor noise = at::randn(options.latent);
  const at::Tensor text = at::randn({options.latent[0], options.text_length, options.model.text_dim});
  const at::Tensor negative_text = at::randn_like(text);

  // One untimed run first: the first loop pays for allocator growth and thread-pool start.
  denoise_with_flow_match(model, {noise, text, negative_text}, options);
  std::vector<CacheStudyPoint> points;
  at::Tensor reference;
  std::vector<std::string> runs{"none"};
  runs.insert(runs.end(), options.caches.begin(), options.caches.end());
  for (const auto& spec : runs) {
    if (spec != "none") enable_cache(model, parse_cache_spec(spec));
    // The median of `repeat` identical runs (each a new generation: denoise resets the cache), so one noisy
    // run does not decide.
    std::vector<double> seconds;
    at::Tensor latent;
    for (int run = 0; run < options.repeat; ++run) {
      const auto start = std::chrono::steady_clock::now();
      latent = denoise_with_flow_match(model, {noise, text, negative_text}, options);
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    CacheStudyPoint point;
    point.cache = spec;
    point.seconds = seconds[seconds.size() / 2];
    if (spec == "none") {
      reference = latent;
      point.computed = 1;
    } else {
      const auto& records = cache_records(model);
      for (const auto& record : records) {
        (record.action == BlockAction::computed ? point.computed
         : record.action == BlockAction::skipped ? point.skipped
                                                 : point.forecast) += 1.0 / records.size();
      }
      disable_cache(model);
    }
    const double mse = (latent - reference).pow(2).mean().item<double>();
    const double range = (reference.max() - reference.min()).item<double>();
    point.psnr_db = mse == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(range * range / mse);
    point.max_abs_error = (latent - reference).abs().max().item<double>() / reference.abs().max().item<double>();
    points.push_back(point);
  }
  return points;
}

std::string cache_study_json(const CacheStudyOptions& options, const std::vector<CacheStudyPoint>& points) {
  nlohmann::json document;
  document["benchmark"] = "cache_study";
  document["model"] = {{"class", "WanTransformer3DModel (random weights)"}, {"seed", options.seed}};
  for (const auto& [key, value] : options.model.entries()) document["model"][key] = value;
  document["latent"] = options.latent;
  document["steps"] = options.steps;
  document["repeat"] = options.repeat;
  document["guidance"] = {{"scale", options.guidance_scale}, {"mode", "batch [uncond, cond]"}};
  document["scheduler"] = {{"class", "FlowMatchEulerDiscreteScheduler"}, {"shift", options.flow_shift}};
  add_cache_study_results(document, points);
  return document.dump(2) + "\n";
}

void add_cache_study_results(nlohmann::json& document, const std::vector<CacheStudyPoint>& points) {
  const double uncached = points.empty() ? 0 : points.front().seconds;
  for (const auto& point : points) {
    nlohmann::json row = {{"cache", point.cache},
                          {"seconds", point.seconds},
                          {"speedup", uncached / point.seconds},
                          {"computed_share", point.computed},
                          {"skipped_share", point.skipped},
                          {"forecast_share", point.forecast},
                          {"psnr_db", std::isinf(point.psnr_db) ? nlohmann::json(nullptr) : nlohmann::json(point.psnr_db)},
                          {"max_abs_error_relative", point.max_abs_error}};
    if (point.judge_rate) row["judge_rate"] = *point.judge_rate;
    document["results"].push_back(row);
  }
}

std::string cache_study_table(const std::vector<CacheStudyPoint>& points) {
  int width = 5;
  bool judged = false;
  for (const auto& point : points) {
    width = std::max(width, static_cast<int>(point.cache.size()));
    judged = judged || point.judge_rate.has_value();
  }
  char line[512];
  std::snprintf(line, sizeof(line), "%-*s %9s %8s %9s %8s %9s %8s %8s%s\n", width, "cache", "seconds", "speedup",
                "computed", "skipped", "forecast", "PSNR_dB", "max_err", judged ? "  judge" : "");
  std::string table = line;
  const double uncached = points.empty() ? 0 : points.front().seconds;
  for (const auto& point : points) {
    char judge[16] = "";
    if (point.judge_rate) std::snprintf(judge, sizeof(judge), " %6.2f", *point.judge_rate);
    std::snprintf(line, sizeof(line), "%-*s %9.3f %8.2f %9.2f %8.2f %9.2f %8.2f %8.1e%s\n", width, point.cache.c_str(),
                  point.seconds, uncached / point.seconds, point.computed, point.skipped, point.forecast,
                  point.psnr_db, point.max_abs_error, judge);
    table += line;
  }
  return table;
}

}  // namespace tessera
