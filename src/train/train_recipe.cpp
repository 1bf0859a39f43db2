#include "src/train/train_recipe.h"

#include <limits>
#include <set>

#include "common/check.h"
#include "src/io/json_file.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

// Sizes a recipe may ask for: far beyond the committed one (32x32, batches of 32), and every product of two
// of them fits in 64 bits.
constexpr int64_t kMaxPixels = 1 << 14;   // height, width
constexpr int64_t kMaxCount = 1 << 20;    // frames, batch sizes
constexpr int64_t kMaxSteps = int64_t{1} << 40;

void read(const nlohmann::json& json, const char* key, double& target, const std::string& path) {
  const auto found = json.find(key);
  if (found == json.end()) return;
  TESSERA_CHECK(found->is_number(), path, ": \"", key, "\" must be a number, got ", found->dump());
  target = found->get<double>();
}

template <typename Int>
void read(const nlohmann::json& json, const char* key, Int& target, const std::string& path, Int min, Int max) {
  const auto found = json.find(key);
  if (found == json.end()) return;
  target = io::json_integer<Int>(*found, path + ": \"" + key + "\"", min, max);
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
  read(json, "seed", recipe.seed, path, uint64_t{0}, std::numeric_limits<uint64_t>::max());
  read(json, "height", recipe.height, path, int64_t{1}, kMaxPixels);
  read(json, "width", recipe.width, path, int64_t{1}, kMaxPixels);
  read(json, "clip_frames", recipe.clip_frames, path, int64_t{2}, kMaxCount);
  read_object(json, "transformer", recipe.transformer, path);
  read_object(json, "scheduler", recipe.scheduler, path);
  read_object(json, "defaults", recipe.defaults, path);
  nlohmann::json text;
  read_object(json, "text_encoder", text, path);
  const std::string text_path = path + " \"text_encoder\"";
  read(text, "max_length", recipe.text_encoder.max_length, text_path, int64_t{1}, kMaxConfigDimension);
  read(text, "dim", recipe.text_encoder.dim, text_path, int64_t{1}, kMaxConfigDimension);
  read(text, "num_layers", recipe.text_encoder.num_layers, text_path, int64_t{1}, kMaxConfigLayers);
  read(text, "num_heads", recipe.text_encoder.num_heads, text_path, int64_t{1}, kMaxConfigDimension);
  read(json, "steps", recipe.steps, path, int64_t{1}, kMaxSteps);
  read(json, "image_batch", recipe.image_batch, path, int64_t{1}, kMaxCount);
  read(json, "clip_batch", recipe.clip_batch, path, int64_t{1}, kMaxCount);
  read(json, "clip_every", recipe.clip_every, path, int64_t{1}, kMaxSteps);
  read(json, "learning_rate", recipe.learning_rate, path);
  read(json, "weight_decay", recipe.weight_decay, path);
  read(json, "warmup_steps", recipe.warmup_steps, path, int64_t{0}, kMaxSteps);
  read(json, "min_learning_rate_fraction", recipe.min_learning_rate_fraction, path);
  read(json, "grad_clip", recipe.grad_clip, path);
  read(json, "ema_decay", recipe.ema_decay, path);
  read(json, "caption_dropout", recipe.caption_dropout, path);
  read(json, "checkpoint_every", recipe.checkpoint_every, path, int64_t{1}, kMaxSteps);
  read(json, "log_every", recipe.log_every, path, int64_t{1}, kMaxSteps);
  return recipe;
}

}  // namespace tessera
