#include "benchmarks/cache_study.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

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

at::Tensor denoise_with_flow_match(WanTransformer3DModel& model, const at::Tensor& noise, const at::Tensor& text,
                                   int steps, double flow_shift) {
  FlowMatchEulerDiscreteConfig config;
  config.shift = flow_shift;
  FlowMatchEulerDiscreteScheduler scheduler(config);
  DenoiseOptions options;
  options.steps = steps;
  options.guidance_scale = 1.0;  // one branch: the study compares caches, not guidance
  return denoise(model, scheduler, {noise, text, {}}, options);
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
  options.caches = {"fbc:threshold=0.02",       "fbc:threshold=0.05",       "fbc:threshold=0.1",
                    "fbc:threshold=0.2",        "teacache:threshold=0.05",  "teacache:threshold=0.1",
                    "teacache:threshold=0.2",   "teacache:threshold=0.4",   "taylorseer:order=1,interval=2",
                    "taylorseer:order=2,interval=3", "taylorseer:order=2,interval=5",
                    "pab:spatial_skip=2",        "pab:spatial_skip=3,cross_skip=3"};
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

  std::vector<CacheStudyPoint> points;
  at::Tensor reference;
  std::vector<std::string> runs{"none"};
  runs.insert(runs.end(), options.caches.begin(), options.caches.end());
  for (const auto& spec : runs) {
    if (spec != "none") enable_cache(model, parse_cache_spec(spec));
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor latent = denoise_with_flow_match(model, noise, text, options.steps, options.flow_shift);
    CacheStudyPoint point;
    point.cache = spec;
    point.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
  document["scheduler"] = {{"class", "FlowMatchEulerDiscreteScheduler"}, {"shift", options.flow_shift}};
  const double uncached = points.empty() ? 0 : points.front().seconds;
  for (const auto& point : points) {
    document["results"].push_back(
        {{"cache", point.cache},
         {"seconds", point.seconds},
         {"speedup", uncached / point.seconds},
         {"computed_share", point.computed},
         {"skipped_share", point.skipped},
         {"forecast_share", point.forecast},
         {"psnr_db", std::isinf(point.psnr_db) ? nlohmann::json(nullptr) : nlohmann::json(point.psnr_db)},
         {"max_abs_error_relative", point.max_abs_error}});
  }
  return document.dump(2) + "\n";
}

std::string cache_study_table(const std::vector<CacheStudyPoint>& points) {
  std::string table = "cache                              seconds  speedup  computed  skipped  forecast  PSNR_dB  max_err\n";
  char line[200];
  const double uncached = points.empty() ? 0 : points.front().seconds;
  for (const auto& point : points) {
    std::snprintf(line, sizeof(line), "%-32s %9.3f %8.2f %9.2f %8.2f %9.2f %8.2f %8.1e\n", point.cache.c_str(),
                  point.seconds, uncached / point.seconds, point.computed, point.skipped, point.forecast,
                  point.psnr_db, point.max_abs_error);
    table += line;
  }
  return table;
}

}  // namespace tessera
