// `tessera train`: trains the embedded default model from its committed recipe (src/train/).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/check.h"
#include "common/log.h"
#include "common/writable_file.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "parallel/mpi_runtime.h"
#include "src/train/shapes_trainer.h"
#include "src/train/train_recipe.h"

namespace tessera {

int run_train(int argc, char** argv, MpiRuntime& runtime) {
  constexpr const char* kProgram = "tessera train";
  auto options = cli::make_options(
      "train", "Train the embedded default model (a pixel-space Wan transformer and a word text encoder) on "
               "procedurally drawn shapes, from a recipe JSON; writes a complete pipeline folder with the loss "
               "curve, checkpointed as it goes. CPU, one process.");
  options.add_options("train")
      ("recipe", "the recipe JSON (e.g. models/tessera-shapes/recipe.json)", cxxopts::value<std::string>())
      ("out", "the pipeline folder to write", cxxopts::value<std::string>())
      ("steps", "train this many steps instead of the recipe's (a short trial)", cxxopts::value<int64_t>());
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  cli::require(*parsed, kProgram, {"recipe", "out"});
  if (runtime.world_size() != 1) {
    throw cli::UsageError(std::string(kProgram) + " runs in one process; launch it without mpirun (or -np 1)");
  }
  cli::configure_rank(kProgram, runtime, *parsed);
  const auto recipe_path = (*parsed)["recipe"].as<std::string>();
  const TrainRecipe recipe = cli::usage_checked(kProgram, [&] { return read_train_recipe(recipe_path); });
  const auto out_dir = (*parsed)["out"].as<std::string>();
  // The first checkpoint comes after minutes of training: an unwritable --out should fail now.
  std::filesystem::create_directories(out_dir);
  cli::usage_checked(kProgram + std::string(" --out"), [&] { check_writable_file(out_dir + "/model_index.json"); });
  std::ostringstream recipe_text;
  recipe_text << std::ifstream(recipe_path).rdbuf();

  TrainOptions train;
  train.out_dir = out_dir;
  if (parsed->count("steps")) train.steps = (*parsed)["steps"].as<int64_t>();
  train.on_log = [](const TrainProgress& progress) {
    char line[160];
    const double eta = progress.seconds / progress.step * (progress.total - progress.step);
    std::snprintf(line, sizeof(line), "step %lld/%lld loss %.4f lr %.2e %.0f s (eta %.0f s)",
                  static_cast<long long>(progress.step), static_cast<long long>(progress.total), progress.loss,
                  progress.learning_rate, progress.seconds, eta);
    TESSERA_LOG_INFO(line);
  };
  train.on_checkpoint = [](const std::string& dir) { TESSERA_LOG_INFO("checkpoint written to ", dir); };
  const double loss = train_shapes_model(recipe, recipe_text.str(), train);
  TESSERA_LOG_INFO("done: final loss ", loss, "; the pipeline is in ", train.out_dir);
  return 0;
}

}  // namespace tessera
