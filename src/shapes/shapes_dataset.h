#pragma once
// The training data of the embedded model, generated on the fly and deterministic from a seed: random
// scenes (shapes_scene.h) drawn by the renderer with small random offsets and sizes, with their captions.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace tessera::shapes {

struct ShapesBatch {
  at::Tensor pixels;  // [batch, 3, frames, height, width] float32 in [-1, 1]
  std::vector<std::string> captions;
};

class ShapesDataset {
 public:
  explicit ShapesDataset(uint64_t seed) : random_(seed) {}

  // One frame: still scenes only. Several frames: moving scenes, and a quarter still ones (held in place),
  // so that a still caption also gives a still clip.
  ShapesBatch next(int64_t batch, int64_t frames, int64_t height, int64_t width);

 private:
  std::mt19937_64 random_;
};

}  // namespace tessera::shapes
