#include "launch/generation_options.h"

#include <ATen/ATen.h>

#include "cache/cache_spec.h"
#include "cache/text_kv_cache.h"
#include "common/check.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/parallel_options.h"
#include "launch/progress_bar.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"
#include "src/shapes/embedded_model.h"

namespace tessera::cli {

void add_generation_options(cxxopts::Options& options, const std::string& group) {
  options.add_options(group)
      ("model", "pipeline folder (model_index.json + one folder per part): a diffusers WanPipeline (Wan2.1, "
                "Wan2.2 text-to-video), WanImageToVideoPipeline (with --image) or FluxPipeline (FLUX.1 "
                "text-to-image); default: the embedded model tessera-shapes",
       cxxopts::value<std::string>())
      ("dtype", "fp32, bf16 or fp16; auto: bf16 on a CUDA device, fp32 on the CPU", cxxopts::value<std::string>()->default_value("auto"))
      ("negative-prompt", "what to steer away from (default: the model's)", cxxopts::value<std::string>())
      ("steps", "denoising steps (default: the model's)", cxxopts::value<int>())
      ("guidance-scale", "classifier-free guidance scale; 1 runs the prompt alone (default: the model's). "
                         "FLUX.1-dev takes it as an input of the model (one forward per step); schnell ignores it",
       cxxopts::value<double>())
      ("guidance-scale-2", "the low-noise expert's guidance scale in a two-expert folder (Wan2.2 A14B: transformer_2 "
                           "and boundary_ratio); default: --guidance-scale. Refused for a one-transformer model",
       cxxopts::value<double>())
      ("image", "the first frame of an image-to-video folder (WanImageToVideoPipeline): a PNG or JPEG file, "
                "resized to the frame size; without --height/--width the size follows its aspect ratio",
       cxxopts::value<std::string>())
      ("last-image", "the last frame, for first-and-last-frame generation (an FLF2V checkpoint, or Wan2.2 I2V)",
       cxxopts::value<std::string>())
      ("seed", "seed of the starting noise: the same seed gives the same output at any world size",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("height", "frame height in pixels (default: the model's)", cxxopts::value<int64_t>())
      ("width", "frame width in pixels (default: the model's)", cxxopts::value<int64_t>())
      ("frames", "frames: 1 gives an image (default: the model's; the embedded model gives 4 for a prompt "
                 "with 'moving')", cxxopts::value<int64_t>())
      ("cache", "step cache, " + cache_spec_help(), cxxopts::value<std::string>())
      ("text-kv-cache", kTextKVCacheHelp, cxxopts::value<std::string>()->default_value("auto"))
      ("lora", "LoRA file fused into the transformer's weights at load, PATH[:SCALE] (scale default 1); repeat for "
               "several. diffusers/PEFT or original Wan keys (docs/lora.md)", cxxopts::value<std::vector<std::string>>())
      ("lora-mode", "how the LoRAs apply: fuse (into the weights: no cost per step) or hooks (an extra low-rank "
                    "matmul per adapted layer: a batch switches sets without touching weights); docs/lora.md",
       cxxopts::value<std::string>()->default_value("fuse"))
      ("idle-expert", "where a two-expert model's (Wan2.2 A14B) idle expert waits: host (in host memory; a GPU's "
                      "default), reload (dropped, read again from its files at its turn; the CPU's default, or "
                      "resident with fused LoRAs), resident (both on the device) or auto",
       cxxopts::value<std::string>()->default_value("auto"))
      ("weights", "how the transformers keep their weights: full (as loaded), fp8 (float8_e4m3fn at rest, each "
                  "linear layer cast up for its forward, as diffusers' enable_layerwise_casting) or fp8-scaled "
                  "(float8_e4m3fn with a scale per output channel, FP8 matmul on GPUs that have it); "
                  "docs/fp8_weights.md",
       cxxopts::value<std::string>()->default_value("full"))
      ("shard-weights", "each rank of a generation keeps 1/N of the transformers' and text encoders' weights and gathers "
                        "each block's just before it runs, the next one's while one computes: the same output, weights "
                        "per rank falling as 1/N (docs/shard_weights.md)")
      ("cfg-mode", "how one rank runs the two guidance branches: sequential, batch or auto",
       cxxopts::value<std::string>()->default_value("auto"))
      ("fps", "frames per second of a video output", cxxopts::value<int>()->default_value("4"))
      ("upscale", "enlarge the written frames by this factor (nearest neighbour)",
       cxxopts::value<int>()->default_value("1"))
      ("skip-memory-check", "run a request even where its memory estimate per rank exceeds what the rank has "
                            "(docs/memory_estimate.md); by default it is refused before anything loads");
}

namespace {

GenerationRequest request_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  GenerationRequest request;
  if (parsed.count("negative-prompt")) request.negative_prompt = parsed["negative-prompt"].as<std::string>();
  if (parsed.count("steps")) request.steps = positive_flag(program, parsed, "steps");
  if (parsed.count("guidance-scale")) request.guidance_scale = guidance_scale_from_flags(program, parsed);
  if (parsed.count("guidance-scale-2")) {
    const double scale = parsed["guidance-scale-2"].as<double>();
    usage_checked(program + " --guidance-scale-2", [&] { check_guidance_scale(scale); });
    request.guidance_scale_2 = scale;
  }
  request.seed = parsed["seed"].as<uint64_t>();
  if (parsed.count("height")) request.height = parsed["height"].as<int64_t>();
  if (parsed.count("width")) request.width = parsed["width"].as<int64_t>();
  if (parsed.count("frames")) request.frames = parsed["frames"].as<int64_t>();
  if (parsed.count("image")) request.image = parsed["image"].as<std::string>();
  if (parsed.count("last-image")) request.last_image = parsed["last-image"].as<std::string>();
  return request;
}

io::FrameWriteOptions write_options_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  io::FrameWriteOptions options;
  options.fps = parsed["fps"].as<int>();
  options.upscale = parsed["upscale"].as<int>();
  if (options.fps < 1 || options.upscale < 1) {
    throw UsageError(program + ": --fps and --upscale must be at least 1");
  }
  return options;
}

}  // namespace

std::optional<std::string> cache_spec_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  if (!parsed.count("cache")) return std::nullopt;
  const auto spec = parsed["cache"].as<std::string>();
  usage_checked(program, [&] { parse_cache_spec(spec); });
  return spec;
}

TextKVMode text_kv_mode_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  return usage_checked(program, [&] { return parse_text_kv_mode(parsed["text-kv-cache"].as<std::string>()); });
}

std::string text_kv_cache_report(HookableModel& model) {
  const TextKVCacheStats stats = text_kv_cache_stats(model);
  return detail::concat("text K/V cache on rank 0: ", stats.hits, " calls reused the prompt's keys and values or "
                        "text embedding, ", stats.misses, " computed them, ", stats.entries, " entries held");
}

double guidance_scale_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  const double scale = parsed["guidance-scale"].as<double>();
  usage_checked(program + " --guidance-scale", [&] { check_guidance_scale(scale); });
  return scale;
}

std::string model_dir_from_flags(const cxxopts::ParseResult& parsed) {
  if (parsed.count("model")) return parsed["model"].as<std::string>();
  return embedded_model_dir();
}

GenerationFlags read_generation_flags(const std::string& program, const cxxopts::ParseResult& parsed,
                                      bool check_request) {
  GenerationFlags flags;
  flags.write = write_options_from_flags(program, parsed);
  flags.cache_spec = cache_spec_from_flags(program, parsed);
  flags.dtype = dtype_from_flags(program, parsed);
  flags.guidance_mode =
      usage_checked(program, [&] { return parse_guidance_mode(parsed["cfg-mode"].as<std::string>()); });
  flags.model_dir = usage_checked(program, [&] { return model_dir_from_flags(parsed); });
  flags.request = request_from_flags(program, parsed);
  if (parsed.count("lora")) {
    for (const auto& text : parsed["lora"].as<std::vector<std::string>>()) {
      flags.loras.push_back(usage_checked(program, [&] { return lora::parse_lora_spec(text); }));
    }
  }
  flags.lora_mode = usage_checked(program, [&] { return parse_lora_mode(parsed["lora-mode"].as<std::string>()); });
  flags.text_kv_cache = text_kv_mode_from_flags(program, parsed);
  flags.idle_expert = parsed["idle-expert"].as<std::string>();
  flags.check_memory = parsed.count("skip-memory-check") == 0;
  flags.weights = usage_checked(program, [&] { return parse_weight_storage(parsed["weights"].as<std::string>()); });
  flags.shard_weights = parsed.count("shard-weights") != 0;
  check_weights_with_loras(program, flags, !flags.loras.empty());
  check_shard_weights(program, flags);
  // Before any part is loaded: a second guidance scale for a folder with one transformer, an image where none is
  // taken (or none where one is needed), an unreadable image. A batch checks each job instead (its jobs may give
  // what the flags leave out).
  // A folder that is not there fails later, as loading it would (status 1), not as a bad flag.
  if (check_request && is_pipeline_dir(flags.model_dir)) {
    usage_checked(program, [&] { Pipeline::check_folder_request(flags.model_dir, flags.request); });
  }
  return flags;
}

void check_weights_with_loras(const std::string& program, const GenerationFlags& flags, bool loras) {
  // A LoRA fused into FP8 weights, or hooked with adapters in the storage dtype, is not what diffusers computes
  // (PEFT keeps adapters out of the cast); refused rather than approximated.
  if (flags.weights != WeightStorage::full && loras) {
    throw UsageError(detail::concat(program, ": --weights ", weight_storage_name(flags.weights),
                                    " does not take LoRAs (--lora, or a batch job's \"loras\"); use --weights full "
                                    "with them"));
  }
}

void check_shard_weights(const std::string& program, const GenerationFlags& flags) {
  if (!flags.shard_weights) return;
  // Each of these swaps or edits the transformers' parameters, which sharded weights own between their gathers.
  if (!flags.loras.empty() && flags.lora_mode == LoraMode::fuse) {
    throw UsageError(program + ": --shard-weights takes LoRAs as hooks only (no rank holds a whole weight to fuse "
                     "into); add --lora-mode hooks");
  }
  if (flags.idle_expert != "auto" && flags.idle_expert != "resident") {
    throw UsageError(program + ": --shard-weights keeps both experts' shares resident (each is already 1/N of its "
                     "weights); leave out --idle-expert " + flags.idle_expert + ", or use --idle-expert resident");
  }
}

IdleExpert idle_expert_for(const std::string& program, const GenerationFlags& flags, c10::Device device,
                           bool fused_loras) {
  // Sharded experts stay where they are: a share is small, and a parked one would leave its gathers unanswered.
  if (flags.shard_weights) return IdleExpert::resident;
  return usage_checked(program, [&] { return parse_idle_expert(flags.idle_expert, device, fused_loras); });
}

GenerationSession::Result run_with_progress(GenerationSession& session, const Generation& generation, bool report) {
  ProgressBar bar("step", generation.steps, report);
  auto result = session.run(generation, [&](const DenoiseProgress& progress) {
    bar.update(progress.step + 1, progress.seconds);
  });
  bar.finish();
  return result;
}

io::FramesView frames_view(const at::Tensor& frames) {
  return {frames.data_ptr<uint8_t>(), frames.size(0), frames.size(1), frames.size(2)};
}

}  // namespace tessera::cli
