#pragma once
// `tessera train`: trains the embedded default model from its recipe on procedurally drawn shapes
// (src/shapes/), the Wan transformer and the word text encoder jointly, with Wan's flow-matching objective,
// and writes a complete pipeline folder (model_index.json, transformer/, text_encoder/, tokenizer/,
// scheduler/, vae/) plus the loss curve.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "src/train/train_recipe.h"

namespace tessera {

struct TrainProgress {
  int64_t step = 0;  // steps done
  int64_t total = 0;
  double loss = 0;  // mean over the last log interval
  double learning_rate = 0;
  double seconds = 0;  // since the start
};

struct TrainOptions {
  std::string out_dir;                   // the pipeline folder to write
  std::optional<int64_t> steps;          // overrides the recipe's (short trial runs)
  std::function<void(const TrainProgress&)> on_log;
  std::function<void(const std::string&)> on_checkpoint;  // after each checkpoint is written
};

// Returns the final mean loss of the last log interval.
double train_shapes_model(const TrainRecipe& recipe, const std::string& recipe_text, const TrainOptions& options);

}  // namespace tessera
