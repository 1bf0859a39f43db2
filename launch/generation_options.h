#pragma once
// The options `tessera generate` and `tessera batch` share (a batch's flags are the defaults of its jobs),
// and the per-rank session that runs generations with them: pipeline, parallelism, cache, progress.
#include <cxxopts.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/text_kv_cache.h"
#include "launch/lora_flags.h"
#include "src/io/frame_writer.h"
#include "src/models/lora/lora_spec.h"
#include "src/models/weight_storage.h"
#include "src/pipelines/denoise_loop.h"
#include "src/pipelines/expert_residency.h"
#include "src/pipelines/generation_request.h"
#include "src/pipelines/generation_session.h"

namespace tessera::cli {

// --negative-prompt --steps --guidance-scale --guidance-scale-2 --image --last-image --seed --height --width --frames
// --cache --text-kv-cache --lora --lora-mode --idle-expert --weights --shard-weights
// --cfg-mode --fps
// --upscale, --skip-memory-check, plus --model (default: the embedded model) and --dtype.
void add_generation_options(cxxopts::Options& options, const std::string& group);

// --cache SPEC, checked (a usage error when malformed); nullopt without the flag.
std::optional<std::string> cache_spec_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);
// --text-kv-cache's help, for every command that takes it.
inline constexpr const char* kTextKVCacheHelp =
    "reuse the text's cross-attention keys and values across steps (exact: the same numbers, less work per step): "
    "auto (on where the model's text keys stay the same from step to step: Wan; FLUX has none), on (refused "
    "where they change), off";
// --text-kv-cache, checked: a usage error of `program` for a value other than auto, on, off.
TextKVMode text_kv_mode_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);
// "text K/V cache on rank 0: H attention calls reused keys and values, M computed them, E entries held".
std::string text_kv_cache_report(HookableModel& model);
// --guidance-scale, checked (check_guidance_scale): NaN or a negative scale is a usage error of `program`.
double guidance_scale_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);
// --model, or the embedded default model.
std::string model_dir_from_flags(const cxxopts::ParseResult& parsed);

// What add_generation_options' flags say, every value checked: a bad one is a usage error of `program`, raised
// here, before any model is loaded. With `check_request`, the request is checked against the folder's
// model_index.json too (Pipeline::check_folder_request: --guidance-scale-2, --image).
struct GenerationFlags {
  GenerationRequest request;  // the prompt is left to the caller
  std::optional<std::string> cache_spec;
  std::optional<c10::ScalarType> dtype;  // nullopt: auto (dtype_for_device)
  GuidanceMode guidance_mode = GuidanceMode::automatic;
  std::string model_dir;
  io::FrameWriteOptions write;
  std::vector<lora::LoraSpec> loras;  // --lora, in order
  LoraMode lora_mode = LoraMode::fuse;  // --lora-mode
  TextKVMode text_kv_cache = TextKVMode::automatic;  // --text-kv-cache
  std::string idle_expert = "auto";  // --idle-expert, resolved by idle_expert_for once the device is known
  bool check_memory = true;             // not --skip-memory-check
  WeightStorage weights = WeightStorage::full;  // --weights
  bool shard_weights = false;                   // --shard-weights
};
GenerationFlags read_generation_flags(const std::string& program, const cxxopts::ParseResult& parsed,
                                      bool check_request = true);

// --weights fp8 with LoRAs (`loras`: the flags' or a batch job's) is a usage error of `program`.
void check_weights_with_loras(const std::string& program, const GenerationFlags& flags, bool loras);

// --shard-weights with what it does not combine with (--weights fp8, LoRAs, a parking --idle-expert, fastercache)
// is a usage error of `program` that names the choice.
void check_shard_weights(const std::string& program, const GenerationFlags& flags);

// Where the idle expert waits (parse_idle_expert, a usage error of `program` when it cannot be): the weights
// count as edited when LoRAs are fused into them (`fused_loras`).
IdleExpert idle_expert_for(const std::string& program, const GenerationFlags& flags, c10::Device device,
                           bool fused_loras);

// session.run with a progress bar of its steps, drawn when `report` (rank 0 of the generation).
GenerationSession::Result run_with_progress(GenerationSession& session, const Generation& generation, bool report);

// Frames as the writer's view (they must stay alive while it is used).
io::FramesView frames_view(const at::Tensor& frames);

}  // namespace tessera::cli
