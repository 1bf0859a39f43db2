#pragma once
// Draws a scene (shapes_scene.h) as frames: the shape's colour on black, edges anti-aliased by 3x3
// supersampling. Deterministic: the only randomness, a small offset and size change, is passed in.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "src/shapes/shapes_scene.h"

namespace tessera::shapes {

// Small per-sample variations, as fractions of the frame size (offset) or of the nominal radius (scale).
struct Variation {
  double offset_y = 0;
  double offset_x = 0;
  double radius_scale = 1;
};

// Where the shape's centre is in frame `frame` of `frames`, as fractions of (height, width). A moving shape
// crosses from one quarter of the frame to the other three quarters, evenly over the frames.
std::array<double, 2> shape_centre(const Scene& scene, int64_t frame, int64_t frames);

// The nominal radius as a fraction of the shorter side.
constexpr double kRadiusFraction = 0.18;

// [3, frames, height, width] float32 in [-1, 1] (black is -1), the value range the model is trained on.
at::Tensor render(const Scene& scene, int64_t frames, int64_t height, int64_t width, const Variation& variation = {});

}  // namespace tessera::shapes
