// `tessera calibrate-magcache`: one uncached generation of a model folder with MagCache in calibration mode (it
// never skips), and the magnitude ratios it measured written to a file that `--cache magcache:ratios=FILE` reads.
#include <string>

#include "cache/enable_cache.h"
#include "cache/mag_cache_ratios.h"
#include "common/atomic_file.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/generation_options.h"
#include "launch/parallel_options.h"
#include "parallel/device_mesh.h"
#include "parallel/mpi_runtime.h"
#include "src/models/model.h"
#include "src/pipelines/pipeline.h"

namespace tessera {

int run_calibrate_magcache(int argc, char** argv, MpiRuntime& runtime) {
  constexpr const char* kProgram = "tessera calibrate-magcache";
  auto options = cli::make_options(
      "calibrate-magcache",
      "Measure a model's MagCache ratios: one generation with every step computed, the mean over tokens of "
      "|residual| / |previous residual| of the block stack at each step, per guidance branch. Writes {\"steps\", "
      "\"ratios\" (the conditional branch's), \"contexts\"} to --out; generate with --cache magcache:ratios=FILE "
      "(ratios of another step count are interpolated). Calibrate with the sampler, step count and size you "
      "generate with.");
  options.add_options("calibrate-magcache")
      ("prompt", "the prompt to calibrate on", cxxopts::value<std::string>()->default_value("red circle top left"))
      ("out", "where to write the ratios (JSON)", cxxopts::value<std::string>());
  cli::add_generation_options(options, "calibrate-magcache");
  cli::add_parallel_options(options, "calibrate-magcache", /*cfg=*/true);
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  cli::require(*parsed, kProgram, {"out"});
  const auto out = (*parsed)["out"].as<std::string>();
  const cli::GenerationFlags flags = cli::read_generation_flags(kProgram, *parsed);
  if (flags.cache_spec) {
    throw cli::UsageError(std::string(kProgram) + ": calibration runs its own cache (magcache:calibrate=true); "
                          "drop --cache");
  }
  const DeviceBinding binding = cli::configure_rank(kProgram, runtime, *parsed);
  auto mesh = cli::make_device_mesh(kProgram, *parsed, runtime, binding, flags.model_dir);
  const bool rank0 = runtime.world_rank() == 0;
  const c10::Device device = cli::torch_device(binding);
  auto pipeline = Pipeline::load(flags.model_dir, cli::dtype_for_device(flags.dtype, device), device,
                                 {.encodes_text = mesh->world().rank() == 0, .weights = flags.weights});
  GenerationRequest request = flags.request;
  request.prompt = (*parsed)["prompt"].as<std::string>();
  const Generation generation = cli::usage_checked(kProgram, [&] { return pipeline->resolve(request); });
  GenerationSession session(std::move(pipeline), mesh, flags.guidance_mode);
  session.use_text_kv_cache(flags.text_kv_cache);
  session.use_cache(std::string("magcache:calibrate=true"));
  cli::run_with_progress(session, generation, rank0);
  // A two-expert pipeline calibrates its first (high-noise) expert; each expert's cache is its own.
  const auto ratios = magcache_calibration(*session.pipeline().transformers().front().model);
  // Every rank of a context-parallel group measured the same ratios (their sums are reduced); under CFG-parallel
  // rank 0 runs the conditional branch, whose ratios are the ones to use, and the file holds that context only.
  if (rank0) {
    write_file_atomically(out, magcache_calibration_json(ratios));
    TESSERA_LOG_INFO("wrote ", out, ": MagCache ratios of ", generation.steps, " steps");
  }
  return 0;
}

}  // namespace tessera
