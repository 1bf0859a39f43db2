#include "src/train/train_recipe.h"

#include <set>

#include "common/check.h"
#include "src/io/json_file.h"

namespace tessera {
namespace {

template <typename T>
void read(const nlohmann::json& json, const char* key, T& target, const std::string& path) {
  const auto found = json.find(key);
  if (found == json.end()) return;
  try {
    target = found->get<T>();
  } catch (const nlohmann::json::exception&) {
    TESSERA_CHECK(false, path, ": \"", key, "\" has the wrong type: ", found->dump());
  }
}

void read_object(const nlohmann::json& json, const char* key, nlohmann::json& target, const std::string& path) {
  const auto found = json.find(key);
  TESSERA_CHECK(found != json.end() && found->is_object(), path, " needs an object \"", key, "\"");
  target = *found;
}

}  // namespace

TrainRecipe read_train_recipe(const std::string& path) {
  const nlohmann::json json = io::read_json_object(path, "the training recipe");
  static const std::set<std::string> known = {
      "seed", "height", "width", "clip_frames", "transformer", "text_encoder", "scheduler", "defaults", "steps",
      "image_batch", "clip_batch", "clip_every", "learning_rate", "weight_decay", "warmup_steps",
      "min_learning_rate_fraction", "grad_clip", "ema_decay", "caption_dropout", "checkpoint_every", "log_every",
      "comment"};
  for (const auto& [key, value] : json.items()) {
    TESSERA_CHECK(known.count(key) != 0, path, ": unknown key \"", key, "\"");
  }
  TrainRecipe recipe;
  read(json, "seed", recipe.seed, path);
  read(json, "height", recipe.height, path);
  read(json, "width", recipe.width, path);
  read(json, "clip_frames", recipe.clip_frames, path);
  read_object(json, "transformer", recipe.transformer, path);
  read_object(json, "scheduler", recipe.scheduler, path);
  read_object(json, "defaults", recipe.defaults, path);
  nlohmann::json text;
  read_object(json, "text_encoder", text, path);
  read(text, "max_length", recipe.text_encoder.max_length, path);
  read(text, "dim", recipe.text_encoder.dim, path);
  read(text, "num_layers", recipe.text_encoder.num_layers, path);
  read(text, "num_heads", recipe.text_encoder.num_heads, path);
  read(json, "steps", recipe.steps, path);
  read(json, "image_batch", recipe.image_batch, path);
  read(json, "clip_batch", recipe.clip_batch, path);
  read(json, "clip_every", recipe.clip_every, path);
  read(json, "learning_rate", recipe.learning_rate, path);
  read(json, "weight_decay", recipe.weight_decay, path);
  read(json, "warmup_steps", recipe.warmup_steps, path);
  read(json, "min_learning_rate_fraction", recipe.min_learning_rate_fraction, path);
  read(json, "grad_clip", recipe.grad_clip, path);
  read(json, "ema_decay", recipe.ema_decay, path);
  read(json, "caption_dropout", recipe.caption_dropout, path);
  read(json, "checkpoint_every", recipe.checkpoint_every, path);
  read(json, "log_every", recipe.log_every, path);
  TESSERA_CHECK(recipe.steps >= 1 && recipe.image_batch >= 1 && recipe.clip_batch >= 1 && recipe.clip_every >= 1 &&
                    recipe.clip_frames >= 2 && recipe.checkpoint_every >= 1 && recipe.log_every >= 1,
                path, ": steps, batches, clip_every, checkpoint_every and log_every must be at least 1, clip_frames "
                "at least 2");
  return recipe;
}

}  // namespace tessera
