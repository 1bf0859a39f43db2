#pragma once
// One rank's generation state, for any program that generates (the CLI's generate, batch and bench judge; a C++
// user's own): the pipeline with parallelism enabled on its transformer over a mesh, the current cache, and the
// loop's progress reported to a callback.
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cache/text_kv_cache.h"
#include "src/pipelines/denoise_loop.h"
#include "src/pipelines/generation_request.h"

namespace tessera {

class DeviceMesh;
class Pipeline;

class GenerationSession {
 public:
  GenerationSession(std::unique_ptr<Pipeline> pipeline, std::shared_ptr<DeviceMesh> mesh, GuidanceMode guidance_mode);
  ~GenerationSession();

  Pipeline& pipeline() { return *pipeline_; }
  DeviceMesh& mesh() { return *mesh_; }
  // Enables the cache `spec` describes on the transformer (replacing a different one), or disables the cache
  // when nullopt. Throws tessera::Error for a malformed spec.
  void use_cache(const std::optional<std::string>& spec);
  const std::optional<std::string>& cache_spec() const { return cache_spec_; }
  // The text K/V cache on every transformer (cache/text_kv_cache.h); automatic from construction: on where the
  // model's text keys are the same at every step (it changes no number). Throws for `on` where they are not.
  void use_text_kv_cache(TextKVMode mode);

  struct Result {
    at::Tensor frames;  // uint8 [frames, height, width, 3]
    double seconds = 0;
    double seconds_per_step = 0;
  };
  // `on_step` is called after each denoising step (a progress bar's update).
  Result run(const Generation& generation, const std::function<void(const DenoiseProgress&)>& on_step = {});

 private:
  std::unique_ptr<Pipeline> pipeline_;
  std::shared_ptr<DeviceMesh> mesh_;
  GuidanceMode guidance_mode_;
  std::optional<std::string> cache_spec_;
};

}  // namespace tessera
