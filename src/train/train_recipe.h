#pragma once
// The recipe of the embedded model: everything `tessera train` needs to reproduce it (sizes, data, schedule,
// seed), read from a JSON file that is committed beside the weights.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "src/models/text/word_text_encoder.h"

namespace tessera {

struct TrainRecipe {
  uint64_t seed = 0;
  int64_t height = 32, width = 32;
  int64_t clip_frames = 4;           // frames of the moving-shape clips
  nlohmann::json transformer;        // WanTransformer3DModel config.json (in_channels counts the coordinates)
  WordTextEncoderConfig text_encoder;  // vocab_size is filled from the shapes vocabulary
  nlohmann::json scheduler;          // the scheduler_config.json sampling uses
  nlohmann::json defaults;           // generation defaults written to model_index.json
  int64_t steps = 4000;
  int64_t image_batch = 32;          // 1-frame samples per image step
  int64_t clip_batch = 8;            // clips per clip step
  int64_t clip_every = 2;            // every n-th step is a clip step
  double learning_rate = 1e-3;
  double weight_decay = 0.01;
  int64_t warmup_steps = 200;
  double min_learning_rate_fraction = 0.1;  // cosine decay to this fraction of the peak
  double grad_clip = 1.0;
  double ema_decay = 0.999;          // 0 turns EMA off
  double caption_dropout = 0.1;      // share of empty captions: what classifier-free guidance needs
  int64_t checkpoint_every = 500;
  int64_t log_every = 25;
};

// Throws tessera::Error naming the file and the key for a missing or mistyped entry; unknown keys are errors.
TrainRecipe read_train_recipe(const std::string& path);

}  // namespace tessera
