// `tessera generate`: a prompt in, an image or a clip out, on any number of ranks.
#include <cstdio>
#include <vector>

#include "cache/cache_stats_json.h"
#include "cache/enable_cache.h"
#include "cache/text_kv_cache.h"
#include "common/atomic_file.h"
#include "common/check.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/generation_options.h"
#include "launch/lora_flags.h"
#include "launch/memory_check.h"
#include "launch/parallel_options.h"
#include "parallel/device_mesh.h"
#include "parallel/mpi_runtime.h"
#include "src/models/model.h"
#include "src/pipelines/pipeline.h"

namespace tessera {

int run_generate(int argc, char** argv, MpiRuntime& runtime) {
  constexpr const char* kProgram = "tessera generate";
  auto options = cli::make_options(
      "generate", "Generate an image or a clip from a prompt: text encoder, seeded starting noise (the same at "
                  "every world size), the denoising loop with guidance, context parallelism and an optional step "
                  "cache, the decoder. Rank 0 writes the output atomically; .png gives the image (several frames "
                  "side by side), .mp4 an H.264 video.");
  options.add_options("generate")
      ("prompt", "what to draw; the embedded model knows colours (red green blue yellow cyan magenta), shapes "
                 "(circle square triangle), places (top left, top right, bottom left, bottom right, center) and "
                 "motion (moving left/right/up/down), e.g. \"red circle top left\"", cxxopts::value<std::string>())
      ("out", "output file: .png or .mp4", cxxopts::value<std::string>())
      ("stats-json", "write what every cached block did at every step on every rank (needs --cache)",
       cxxopts::value<std::string>());
  cli::add_generation_options(options, "generate");
  cli::add_parallel_options(options, "generate", /*cfg=*/true);
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  cli::require(*parsed, kProgram, {"prompt", "out"});
  const auto out = (*parsed)["out"].as<std::string>();
  // Everything that can be checked without the model is checked before it is loaded.
  cli::usage_checked(kProgram, [&] { io::check_writable_output(out); });
  cli::check_output_flags(kProgram, *parsed, {"stats-json"});
  const cli::GenerationFlags flags = cli::read_generation_flags(kProgram, *parsed);
  const auto& cache_spec = flags.cache_spec;
  if (parsed->count("stats-json") && !cache_spec) {
    throw cli::UsageError(std::string(kProgram) + ": --stats-json records what a step cache did; add --cache SPEC");
  }

  const DeviceBinding binding = cli::configure_rank(kProgram, runtime, *parsed);
  auto mesh = cli::make_device_mesh(kProgram, *parsed, runtime, binding, flags.model_dir);
  const bool rank0 = runtime.world_rank() == 0;
  const c10::Device device = cli::torch_device(binding);
  const c10::ScalarType dtype = cli::dtype_for_device(flags.dtype, device);
  const std::vector<lora::ScaledLora> loras = lora::read_loras(flags.loras);  // a bad file stops us before loading
  // Rank 0 encodes the prompts for every rank (it alone holds the text encoder's weights).
  const PipelineLoadOptions load_options{
      .idle_expert =
          cli::idle_expert_for(kProgram, flags, device, flags.lora_mode == cli::LoraMode::fuse && !loras.empty()),
      .encodes_text = mesh->world().rank() == 0,
      .weights = flags.weights,
      .shard_group = flags.shard_weights ? std::shared_ptr<Communicator>(mesh, &mesh->world()) : nullptr};
  if (flags.check_memory) {
    // Before anything loads: a request that cannot fit stops here, with what would.
    const cli::AvailableMemory available = cli::available_memory(binding, runtime);
    const MemoryRequest shape = cli::memory_request(
        dtype, mesh->config(), cli::batched_guidance(flags.guidance_mode, cache_spec), load_options, device);
    if (const auto refusal = cli::memory_refusal(flags.model_dir, flags.request, shape, available)) {
      throw cli::UsageError(detail::concat(kProgram, ": ", *refusal));
    }
  }
  auto pipeline = Pipeline::load(flags.model_dir, dtype, device, load_options);
  cli::apply_loras(pipeline->transformer(), loras, flags.lora_mode, rank0);
  GenerationRequest request = flags.request;
  request.prompt = (*parsed)["prompt"].as<std::string>();
  const Generation generation = cli::usage_checked(kProgram, [&] { return pipeline->resolve(request); });

  GenerationSession session(std::move(pipeline), mesh, flags.guidance_mode);
  session.use_text_kv_cache(flags.text_kv_cache);
  session.use_cache(cache_spec);
  const std::string guidance_2 = generation.guidance_scale_2
                                     ? detail::concat(" (low-noise expert ", *generation.guidance_scale_2, ")")
                                     : std::string();
  TESSERA_LOG_INFO("\"", generation.prompt, "\": ", generation.frames, " frame(s) of ", generation.height, "x",
                   generation.width, ", ", generation.steps, " steps, guidance ", generation.guidance_scale, guidance_2,
                   ", seed ", generation.seed, ", ", mesh->config().to_string(),
                   cache_spec ? ", cache " + *cache_spec : std::string(", no cache"));
  const auto result = cli::run_with_progress(session, generation, rank0);
  for (const PipelineTransformer& transformer : session.pipeline().transformers()) {
    if (rank0 && text_kv_cache_enabled(*transformer.model)) {
      TESSERA_LOG_INFO(transformer.part, ": ", cli::text_kv_cache_report(*transformer.model));
    }
  }
  if (cache_spec) {
    // Each expert keeps its own cache, so each has its own decisions.
    const auto& transformers = session.pipeline().transformers();
    const bool experts = transformers.size() > 1;
    std::vector<NamedCachedModel> cached;
    for (const PipelineTransformer& transformer : transformers) {
      cached.push_back({.name = transformer.part, .model = transformer.model.get()});
      if (rank0) {
        TESSERA_LOG_INFO("cache decisions on rank 0", experts ? " (" + transformer.part + ")" : std::string(), ":\n",
                         cache_stats(*transformer.model));
      }
    }
    if (parsed->count("stats-json")) {
      const std::string document =
          experts ? cache_stats_json(cached, mesh->world()) : cache_stats_json(*cached.front().model, mesh->world());
      if (rank0) write_file_atomically((*parsed)["stats-json"].as<std::string>(), document);
    }
  }
  if (rank0) {
    io::write_frames(out, cli::frames_view(result.frames), flags.write);
    char line[256];
    std::snprintf(line, sizeof(line), "wrote %s: %lld frame(s) of %lldx%lld in %.2f s (%.3f s/step over %d steps)",
                  out.c_str(), static_cast<long long>(result.frames.size(0)),
                  static_cast<long long>(result.frames.size(1)), static_cast<long long>(result.frames.size(2)),
                  result.seconds, result.seconds_per_step, generation.steps);
    TESSERA_LOG_INFO(line);
    const ExpertResidency& residency = session.pipeline().residency();
    if (residency.switches() > 0) {
      TESSERA_LOG_INFO("idle expert ", idle_expert_name(residency.policy()), ": ", residency.switches(),
                       " switch(es) took ", residency.switch_seconds(), " s");
    }
  }
  return 0;
}

}  // namespace tessera
