#include <iostream>

#include "common/check.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "parallel/mpi_runtime.h"
#include "src/models/model_registry.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera {

int run_describe(int argc, char** argv, MpiRuntime& runtime) {
  auto options = cli::make_options("describe", "Print what a model supports: caches, context-parallel plan, dtypes, "
                                               "attention backends, parameter count and config.");
  options.add_options()
      ("model", "Model directory in the diffusers layout (holds config.json), or a pipeline folder (holds "
                "model_index.json: its transformer is described, each expert of a two-expert Wan2.2 folder)",
       cxxopts::value<std::string>())
      ("verbose", "Also explain each row and list the CP plan, every config entry and the hook points");
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  if (!parsed->count("model")) {
    throw cli::UsageError("tessera describe: --model DIR is required; see 'tessera describe --help'");
  }
  cli::configure_rank(options.program(), runtime, *parsed);
  // Every rank builds the model so that a bad directory fails the same way everywhere; one rank prints.
  const std::string model_dir = (*parsed)["model"].as<std::string>();
  const bool verbose = parsed->count("verbose") > 0;
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
  return 0;
}

}  // namespace tessera
