#include "src/shapes/shapes_renderer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/check.h"

namespace tessera::shapes {
namespace {

constexpr double kNear = 0.28, kFar = 0.72;                 // still shapes: the centres of the four quadrants
constexpr double kTrackStart = 0.25, kTrackEnd = 0.75;      // moving shapes cross this span

std::array<double, 2> still_centre(Placement placement) {
  switch (placement) {
    case Placement::top_left: return {kNear, kNear};
    case Placement::top_right: return {kNear, kFar};
    case Placement::bottom_left: return {kFar, kNear};
    case Placement::bottom_right: return {kFar, kFar};
    case Placement::center: return {0.5, 0.5};
  }
  return {0.5, 0.5};
}

// Whether the point (dy, dx), relative to the centre and in units of the radius, is inside the shape.
bool inside(ShapeKind shape, double dy, double dx) {
  switch (shape) {
    case ShapeKind::circle: return dy * dy + dx * dx <= 1.0;
    // Side 1.7 radii: about the area of the circle, so size alone does not tell the shapes apart.
    case ShapeKind::square: return std::abs(dy) <= 0.85 && std::abs(dx) <= 0.85;
    case ShapeKind::triangle: {
      // Pointing up: apex at dy = -1.1, base at dy = 0.9, base half-width 1.15.
      if (dy < -1.1 || dy > 0.9) return false;
      return std::abs(dx) <= 1.15 * (dy + 1.1) / 2.0;
    }
  }
  return false;
}

}  // namespace

std::array<double, 2> shape_centre(const Scene& scene, int64_t frame, int64_t frames) {
  if (scene.motion == Motion::none) return still_centre(scene.placement);
  const double progress = frames > 1 ? static_cast<double>(frame) / static_cast<double>(frames - 1) : 0.5;
  const double along = kTrackStart + (kTrackEnd - kTrackStart) * progress;
  switch (scene.motion) {
    case Motion::right: return {0.5, along};
    case Motion::left: return {0.5, 1.0 - along};
    case Motion::down: return {along, 0.5};
    case Motion::up: return {1.0 - along, 0.5};
    case Motion::none: break;
  }
  return {0.5, 0.5};
}

at::Tensor render(const Scene& scene, int64_t frames, int64_t height, int64_t width, const Variation& variation) {
  TESSERA_CHECK(frames >= 1 && height >= 4 && width >= 4, "cannot render ", frames, " frames of ", height, "x",
                width);
  constexpr int kSamples = 3;  // per pixel and axis
  at::Tensor coverage = at::zeros({frames, height, width}, at::kFloat);
  auto cover = coverage.accessor<float, 3>();
  const double radius = kRadiusFraction * static_cast<double>(std::min(height, width)) * variation.radius_scale;
  for (int64_t f = 0; f < frames; ++f) {
    const auto centre = shape_centre(scene, f, frames);
    const double cy = (centre[0] + variation.offset_y) * static_cast<double>(height);
    const double cx = (centre[1] + variation.offset_x) * static_cast<double>(width);
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        int hits = 0;
        for (int sy = 0; sy < kSamples; ++sy) {
          for (int sx = 0; sx < kSamples; ++sx) {
            const double py = static_cast<double>(y) + (sy + 0.5) / kSamples;
            const double px = static_cast<double>(x) + (sx + 0.5) / kSamples;
            hits += inside(scene.shape, (py - cy) / radius, (px - cx) / radius) ? 1 : 0;
          }
        }
        cover[f][y][x] = static_cast<float>(hits) / (kSamples * kSamples);
      }
    }
  }
  const auto& rgb = colours().at(scene.colour).rgb;
  const at::Tensor colour =
      at::tensor({rgb[0] / 127.5f - 1.f, rgb[1] / 127.5f - 1.f, rgb[2] / 127.5f - 1.f}).view({3, 1, 1, 1});
  // Black (-1) blended towards the colour by coverage.
  return -1.0f + (colour + 1.0f) * coverage.unsqueeze(0);
}

}  // namespace tessera::shapes
