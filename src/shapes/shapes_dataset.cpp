#include "src/shapes/shapes_dataset.h"

#include <ATen/ATen.h>

#include "src/shapes/shapes_renderer.h"
#include "src/shapes/shapes_scene.h"

namespace tessera::shapes {
namespace {

constexpr double kOffset = 0.04;       // of the frame size
constexpr double kRadiusSpread = 0.1;  // of the radius
constexpr double kStillClipShare = 0.25;

template <typename T>
const T& pick(const std::vector<T>& items, std::mt19937_64& random) {
  return items[std::uniform_int_distribution<size_t>(0, items.size() - 1)(random)];
}

}  // namespace

ShapesBatch ShapesDataset::next(int64_t batch, int64_t frames, int64_t height, int64_t width) {
  std::uniform_real_distribution<double> offset(-kOffset, kOffset);
  std::uniform_real_distribution<double> radius(1.0 - kRadiusSpread, 1.0 + kRadiusSpread);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  ShapesBatch result;
  std::vector<at::Tensor> samples;
  for (int64_t i = 0; i < batch; ++i) {
    Scene scene;
    scene.colour = static_cast<int>(std::uniform_int_distribution<size_t>(0, colours().size() - 1)(random_));
    scene.shape = pick(shape_kinds(), random_);
    const bool moving = frames > 1 && unit(random_) >= kStillClipShare;
    if (moving) {
      scene.motion = pick(motions(), random_);
    } else {
      scene.placement = pick(placements(), random_);
    }
    const Variation variation{offset(random_), offset(random_), radius(random_)};
    samples.push_back(render(scene, frames, height, width, variation));
    result.captions.push_back(caption(scene));
  }
  result.pixels = at::stack(samples);
  return result;
}

}  // namespace tessera::shapes
