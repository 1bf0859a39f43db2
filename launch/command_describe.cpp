#include <iostream>

#include "common/check.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/memory_check.h"
#include "launch/parallel_options.h"
#include "parallel/mpi_runtime.h"
#include "src/models/model_registry.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/memory_estimate.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera {

int run_describe(int argc, char** argv, MpiRuntime& runtime) {
  constexpr const char* kProgram = "tessera describe";
  auto options = cli::make_options("describe", "Print what a model supports: caches, context-parallel plan, dtypes, "
                                               "attention backends, parameter count and config.");
  options.add_options()
      ("model", "Model directory in the diffusers layout (holds config.json), or a pipeline folder (holds "
                "model_index.json: its transformer is described, each expert of a two-expert Wan2.2 folder)",
       cxxopts::value<std::string>())
      ("verbose", "Also explain each row and list the CP plan, every config entry and the hook points")
      ("height", "with --width / --frames (each defaults to the folder's): also print the memory a generation of "
                 "this size needs per rank at 1, 2, 4 and 8 ranks (pipeline folders; docs/memory_estimate.md)",
       cxxopts::value<int64_t>())
      ("width", "frame width for the memory estimate", cxxopts::value<int64_t>())
      ("frames", "frames for the memory estimate", cxxopts::value<int64_t>())
      ("dtype", "the pipeline dtype of the memory estimate: fp32, bf16 or fp16; auto: bf16 on a CUDA device, fp32 "
                "on the CPU", cxxopts::value<std::string>()->default_value("auto"))
      ("weights", "the memory estimate's weight storage: full, fp8 or fp8-scaled (docs/fp8_weights.md)",
       cxxopts::value<std::string>()->default_value("full"))
      ("shard-weights", "the memory estimate with each column's ranks sharing the transformers' weights "
                        "(docs/shard_weights.md)");
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  if (!parsed->count("model")) {
    throw cli::UsageError("tessera describe: --model DIR is required; see 'tessera describe --help'");
  }
  const DeviceBinding binding = cli::configure_rank(options.program(), runtime, *parsed);
  // Every rank builds the model so that a bad directory fails the same way everywhere; one rank prints.
  const std::string model_dir = (*parsed)["model"].as<std::string>();
  const bool verbose = parsed->count("verbose") > 0;
  const bool estimate = parsed->count("height") || parsed->count("width") || parsed->count("frames");
  const c10::ScalarType dtype =
      cli::dtype_for_device(cli::dtype_from_flags(kProgram, *parsed), cli::torch_device(binding));
  if (estimate && !is_pipeline_dir(model_dir)) {
    throw cli::UsageError(detail::concat(kProgram, ": --height, --width and --frames estimate a generation's memory, "
                                         "which needs a pipeline folder (model_index.json); ", model_dir,
                                         " holds one model"));
  }
  if (!is_pipeline_dir(model_dir)) {
    const auto model = create_model_from_dir(model_dir);
    if (runtime.world_rank() == 0) std::cout << model->describe(verbose) << std::flush;
    return 0;
  }
  // Every transformer the pipeline denoises with (Wan2.2's two experts), each under its part's name.
  const PipelineIndex index = read_pipeline_index(model_dir);
  const std::vector<std::string> parts = Pipeline::transformer_parts_of(index);
  for (const std::string& part : parts) {
    const auto model = create_model_from_dir(index.part_dir(part));
    if (runtime.world_rank() != 0) continue;
    if (parts.size() > 1) std::cout << "== " << part << " ==\n";
    std::cout << model->describe(verbose) << std::flush;
  }
  if (estimate) {
    const GenerationDefaults defaults = Pipeline::defaults_of(index);
    MemoryRequest request{.dtype = dtype};
    const WeightStorage weights =
        cli::usage_checked(kProgram, [&] { return parse_weight_storage((*parsed)["weights"].as<std::string>()); });
    cli::set_weight_storage(request, weights);
    // Sharded experts stay resident (each holds its share): every expert counts.
    request.every_expert_on_device = parsed->count("shard-weights") > 0;
    request.height = parsed->count("height") ? (*parsed)["height"].as<int64_t>() : defaults.height;
    request.width = parsed->count("width") ? (*parsed)["width"].as<int64_t>() : defaults.width;
    request.frames = parsed->count("frames") ? (*parsed)["frames"].as<int64_t>() : defaults.frames;
    const std::string table = cli::usage_checked(kProgram, [&] { return memory_table(model_dir, request, {1, 2, 4, 8},
                                                                                  parsed->count("shard-weights") > 0); });
    if (runtime.world_rank() == 0) std::cout << table << std::flush;
  }
  return 0;
}

}  // namespace tessera
