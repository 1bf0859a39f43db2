#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <optional>

#include "cache/cache_spec.h"
#include "cache/cache_stats_json.h"
#include "cache/enable_cache.h"
#include "cache/text_kv_cache.h"
#include "common/atomic_file.h"
#include "common/check.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/generation_options.h"
#include "launch/parallel_options.h"
#include "parallel/context_parallel.h"
#include "parallel/mpi_runtime.h"
#include "src/io/safetensors.h"
#include "src/io/tensor_names.h"
#include "src/models/load_model.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/scheduler_config.h"

namespace tessera {
namespace {

constexpr const char* kProgram = "tessera denoise";

// The latents stay in fp32 between steps, as diffusers' WanPipeline keeps them; the embeddings take the
// model's dtype. Unknown names are refused so that a misspelt negative_prompt_embeds cannot silently turn
// guidance off.
DenoiseInputs read_inputs(const std::string& path, c10::ScalarType dtype, c10::Device device, double guidance_scale) {
  const io::SafetensorsFile file(path);
  io::check_tensor_names(file, {"latents", "prompt_embeds", "negative_prompt_embeds"}, kProgram,
                         "latents [B, C, F, H, W], prompt_embeds [B, L, D] and negative_prompt_embeds [B, L, D]");
  for (const char* name : {"latents", "prompt_embeds"}) {
    TESSERA_CHECK(file.contains(name), path, " has no '", name, "' tensor; tessera denoise needs latents ",
                  "[B, C, F, H, W] and prompt_embeds [B, L, D] (and negative_prompt_embeds for guidance > 1)");
  }
  TESSERA_CHECK(guidance_scale <= 1.0 || file.contains("negative_prompt_embeds"), "--guidance-scale ", guidance_scale,
                " (> 1, classifier-free guidance) needs negative_prompt_embeds, and ", path, " has none; add them ",
                "to the file, or pass --guidance-scale 1 to denoise with the prompt alone");
  DenoiseInputs inputs;
  inputs.latents = file.load("latents", at::kFloat, device);
  inputs.prompt_embeds = file.load("prompt_embeds", dtype, device);
  if (guidance_scale > 1.0) inputs.negative_prompt_embeds = file.load("negative_prompt_embeds", dtype, device);
  return inputs;
}

void add_denoise_options(cxxopts::Options& options) {
  cli::add_model_options(options, "denoise");
  options.add_options("denoise")
      ("inputs", "safetensors file with latents, prompt_embeds and (for guidance) negative_prompt_embeds",
       cxxopts::value<std::string>())
      ("scheduler", "diffusers scheduler directory (or its scheduler_config.json)", cxxopts::value<std::string>())
      ("steps", "denoising steps", cxxopts::value<int>())
      ("guidance-scale", "classifier-free guidance scale; 1 runs the prompt alone",
       cxxopts::value<double>()->default_value("5.0"))
      ("cfg-mode", "how one rank runs the two guidance branches: sequential (two forwards), batch (one forward on "
                   "[uncond, cond]) or auto (batch for faster_cache, else sequential)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("output", "safetensors file to write the final 'latents' to (rank 0, atomically)", cxxopts::value<std::string>())
      ("cache", "step cache, " + cache_spec_help(), cxxopts::value<std::string>())
      ("text-kv-cache", cli::kTextKVCacheHelp, cxxopts::value<std::string>()->default_value("auto"))
      ("stats-json", "write what every cached block did at every step on every rank to this file (rank 0, needs "
                     "--cache)",
       cxxopts::value<std::string>());
  cli::add_parallel_options(options, "denoise", /*cfg=*/true);
}

// Writes --stats-json (a collective) and logs the table on rank 0.
void report_cache(Model& model, Communicator& world, const cxxopts::ParseResult& parsed) {
  if (world.rank() == 0) TESSERA_LOG_INFO("cache decisions on rank 0:\n", cache_stats(model));
  if (!parsed.count("stats-json")) return;
  const std::string document = cache_stats_json(model, world);
  if (world.rank() != 0) return;
  const auto path = parsed["stats-json"].as<std::string>();
  write_file_atomically(path, document);
  TESSERA_LOG_INFO("wrote ", path);
}

}  // namespace

int run_denoise(int argc, char** argv, MpiRuntime& runtime) {
  auto options = cli::make_options(
      "denoise", "Run the denoising loop of a text-to-video pipeline from precomputed inputs: the latents and the "
                 "prompt embeddings in a safetensors file, a diffusers model and scheduler directory; writes the "
                 "final latents. (No text encoder or VAE yet: embeddings in, latents out.)");
  add_denoise_options(options);
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  cli::require(*parsed, kProgram, {"model", "inputs", "scheduler", "steps", "output"});
  DenoiseOptions denoise_options;
  denoise_options.steps = cli::positive_flag(kProgram, *parsed, "steps");
  denoise_options.guidance_scale = cli::guidance_scale_from_flags(kProgram, *parsed);
  denoise_options.guidance_mode =
      cli::usage_checked(kProgram, [&] { return parse_guidance_mode((*parsed)["cfg-mode"].as<std::string>()); });
  std::optional<CacheConfig> cache;
  if (parsed->count("cache")) {
    cache = cli::usage_checked(kProgram, [&] { return parse_cache_spec((*parsed)["cache"].as<std::string>()); });
  }
  if (parsed->count("stats-json") && !cache) {
    throw cli::UsageError(std::string(kProgram) + ": --stats-json records what a step cache did; add --cache SPEC");
  }
  const TextKVMode text_kv_mode = cli::text_kv_mode_from_flags(kProgram, *parsed);
  const auto requested_dtype = cli::dtype_from_flags(kProgram, *parsed);
  cli::check_output_flags(kProgram, *parsed, {"output", "stats-json"});

  const DeviceBinding binding = cli::configure_rank(kProgram, runtime, *parsed);
  auto mesh = cli::make_device_mesh(kProgram, *parsed, runtime, binding, (*parsed)["model"].as<std::string>());
  const c10::Device device = cli::torch_device(binding);
  const c10::ScalarType dtype = cli::dtype_for_device(requested_dtype, device);
  // The small files first, so that their errors come before the model is loaded.
  const auto scheduler = load_scheduler((*parsed)["scheduler"].as<std::string>());
  const DenoiseInputs inputs =
      read_inputs((*parsed)["inputs"].as<std::string>(), dtype, device, denoise_options.guidance_scale);
  const auto model = cli::load_model(*parsed, dtype, device, mesh);
  enable_parallelism(*model, model->context_parallel_plan(), mesh);
  if (cache) enable_cache(*model, *cache);
  const bool text_kv = use_text_kv_cache(*model, text_kv_mode);
  denoise_options.cfg_group = &mesh->cfg();
  denoise_options.on_step = [](const DenoiseProgress& progress) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.3f s", progress.seconds);
    TESSERA_LOG_INFO("step ", progress.step + 1, "/", progress.total, " t=", progress.timestep, " ", seconds);
  };
  TESSERA_LOG_INFO(scheduler->class_name(), ", ", denoise_options.steps, " steps, guidance scale ",
                   denoise_options.guidance_scale, ", ", mesh->config().to_string(),
                   cache ? ", cache " + cache_method_name(*cache) : std::string(", no cache"),
                   text_kv ? ", text K/V cache" : "");

  c10::InferenceMode inference;
  const at::Tensor latents = denoise(*model, *scheduler, inputs, denoise_options);
  if (cache) report_cache(*model, mesh->world(), *parsed);
  if (text_kv && runtime.world_rank() == 0) TESSERA_LOG_INFO(cli::text_kv_cache_report(*model));
  if (runtime.world_rank() == 0) {
    const auto output = (*parsed)["output"].as<std::string>();
    io::save_safetensors(output, {{"latents", latents.cpu()}});
    TESSERA_LOG_INFO("wrote ", output);
  }
  return 0;
}

}  // namespace tessera
