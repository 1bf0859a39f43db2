#pragma once
// The options `tessera generate` and `tessera batch` share (a batch's flags are the defaults of its jobs),
// and the per-rank session that runs generations with them: pipeline, parallelism, cache, progress.
#include <cxxopts.hpp>

#include <memory>
#include <optional>
#include <string>

#include "src/io/frame_writer.h"
#include "src/pipelines/text_to_video_pipeline.h"

namespace tessera {
class DeviceMesh;
}

namespace tessera::cli {

// --negative-prompt --steps --guidance-scale --seed --height --width --frames --cache --cfg-mode --fps
// --upscale, plus --model (default: the embedded model) and --dtype.
void add_generation_options(cxxopts::Options& options, const std::string& group);

// --cache SPEC, checked (a usage error when malformed); nullopt without the flag.
std::optional<std::string> cache_spec_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);
// --guidance-scale, checked (check_guidance_scale): NaN or a negative scale is a usage error of `program`.
double guidance_scale_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);
// --model, or the embedded default model.
std::string model_dir_from_flags(const cxxopts::ParseResult& parsed);

// What add_generation_options' flags say, every value checked: a bad one is a usage error of `program`, raised
// here, before any model is loaded.
struct GenerationFlags {
  GenerationRequest request;  // the prompt is left to the caller
  std::optional<std::string> cache_spec;
  std::optional<c10::ScalarType> dtype;  // nullopt: auto (dtype_for_device)
  GuidanceMode guidance_mode = GuidanceMode::automatic;
  std::string model_dir;
  io::FrameWriteOptions write;
};
GenerationFlags read_generation_flags(const std::string& program, const cxxopts::ParseResult& parsed);

// One rank's generation state: the pipeline with parallelism enabled on its transformer over `mesh`, the
// current cache, and rank-0 progress reporting.
class GenerationSession {
 public:
  GenerationSession(std::unique_ptr<TextToVideoPipeline> pipeline, std::shared_ptr<DeviceMesh> mesh,
                    GuidanceMode guidance_mode, bool report_progress);
  ~GenerationSession();

  TextToVideoPipeline& pipeline() { return *pipeline_; }
  DeviceMesh& mesh() { return *mesh_; }
  // Enables the cache `spec` describes on the transformer (replacing a different one), or disables the cache
  // when nullopt. Throws tessera::Error for a malformed spec.
  void use_cache(const std::optional<std::string>& spec);
  const std::optional<std::string>& cache_spec() const { return cache_spec_; }

  struct Result {
    at::Tensor frames;  // uint8 [frames, height, width, 3]
    double seconds = 0;
    double seconds_per_step = 0;
  };
  Result run(const Generation& generation);

 private:
  std::unique_ptr<TextToVideoPipeline> pipeline_;
  std::shared_ptr<DeviceMesh> mesh_;
  GuidanceMode guidance_mode_;
  bool report_progress_;
  std::optional<std::string> cache_spec_;
};

// Frames as the writer's view (they must stay alive while it is used).
io::FramesView frames_view(const at::Tensor& frames);

}  // namespace tessera::cli
