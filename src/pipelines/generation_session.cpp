#include "src/pipelines/generation_session.h"

#include <ATen/ATen.h>

#include <chrono>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "parallel/context_parallel.h"
#include "parallel/device_mesh.h"
#include "src/models/model.h"
#include "src/pipelines/pipeline.h"

namespace tessera {

GenerationSession::GenerationSession(std::unique_ptr<Pipeline> pipeline, std::shared_ptr<DeviceMesh> mesh,
                                     GuidanceMode guidance_mode)
    : pipeline_(std::move(pipeline)), mesh_(std::move(mesh)), guidance_mode_(guidance_mode) {
  // Every expert runs over the same mesh, each with hooks of its own.
  for (const PipelineTransformer& transformer : pipeline_->transformers()) {
    enable_parallelism(*transformer.model, transformer.model->context_parallel_plan(), mesh_);
  }
  use_text_kv_cache(TextKVMode::automatic);
}

GenerationSession::~GenerationSession() = default;

void GenerationSession::use_cache(const std::optional<std::string>& spec) {
  if (spec == cache_spec_) return;
  const auto& transformers = pipeline_->transformers();
  if (cache_spec_) {
    for (const PipelineTransformer& transformer : transformers) disable_cache(*transformer.model);
  }
  cache_spec_.reset();
  if (spec) {
    // One cache per expert: each has its own hooks and session, so one expert's residuals and references never
    // stand in for the other's.
    const CacheConfig config = parse_cache_spec(*spec);
    size_t enabled = 0;
    try {
      for (; enabled < transformers.size(); ++enabled) enable_cache(*transformers[enabled].model, config);
    } catch (...) {
      // All experts or none: a later spec must not find a cache left on the first.
      for (size_t i = 0; i < enabled; ++i) disable_cache(*transformers[i].model);
      throw;
    }
    cache_spec_ = spec;
  }
}

void GenerationSession::use_text_kv_cache(TextKVMode mode) {
  // Each expert holds its own entries, as each has its own step cache.
  for (const PipelineTransformer& transformer : pipeline_->transformers()) {
    tessera::use_text_kv_cache(*transformer.model, mode);
  }
}

GenerationSession::Result GenerationSession::run(const Generation& generation,
                                                 const std::function<void(const DenoiseProgress&)>& on_step) {
  DenoiseOptions loop;
  loop.guidance_mode = guidance_mode_;
  loop.cfg_group = &mesh_->cfg();
  double step_seconds = 0;
  loop.on_step = [&](const DenoiseProgress& progress) {
    step_seconds += progress.seconds;
    if (on_step) on_step(progress);
  };
  const auto start = std::chrono::steady_clock::now();
  Result result;
  result.frames = pipeline_->generate(generation, loop, &mesh_->world());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.seconds_per_step = step_seconds / generation.steps;
  return result;
}

}  // namespace tessera
