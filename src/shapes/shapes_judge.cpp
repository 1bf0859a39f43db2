#include "src/shapes/shapes_judge.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "common/check.h"
#include "src/shapes/shapes_renderer.h"

namespace tessera::shapes {
namespace {

// A pixel is of the named colour when every channel is within this distance of it.
constexpr int kChannelTolerance = 100;
// At least this fraction of the shape's nominal area must be found in each frame.
constexpr double kMinimumAreaFraction = 0.25;

struct Centroid {
  double y = 0, x = 0;  // fractions of height and width
  int64_t pixels = 0;
};

Centroid colour_centroid(const at::Tensor& frame, const std::array<uint8_t, 3>& rgb) {
  auto pixels = frame.accessor<uint8_t, 3>();
  Centroid centroid;
  double sum_y = 0, sum_x = 0;
  for (int64_t y = 0; y < frame.size(0); ++y) {
    for (int64_t x = 0; x < frame.size(1); ++x) {
      bool near = true;
      for (int c = 0; c < 3; ++c) near = near && std::abs(int(pixels[y][x][c]) - int(rgb[c])) <= kChannelTolerance;
      if (!near) continue;
      sum_y += static_cast<double>(y) + 0.5;
      sum_x += static_cast<double>(x) + 0.5;
      ++centroid.pixels;
    }
  }
  if (centroid.pixels > 0) {
    centroid.y = sum_y / static_cast<double>(centroid.pixels) / static_cast<double>(frame.size(0));
    centroid.x = sum_x / static_cast<double>(centroid.pixels) / static_cast<double>(frame.size(1));
  }
  return centroid;
}

// A quadrant's centroid must be clearly off the middle lines, and "center" clearly near the middle: a shape
// drawn in the wrong place cannot pass by straddling a boundary.
constexpr double kNear = 0.42, kFar = 0.58, kCentre = 0.15;

bool in_place(Placement placement, double y, double x) {
  switch (placement) {
    case Placement::top_left: return y < kNear && x < kNear;
    case Placement::top_right: return y < kNear && x > kFar;
    case Placement::bottom_left: return y > kFar && x < kNear;
    case Placement::bottom_right: return y > kFar && x > kFar;
    case Placement::center: return std::abs(y - 0.5) < kCentre && std::abs(x - 0.5) < kCentre;
  }
  return false;
}

std::string format(const char* pattern, double a, double b) {
  char text[96];
  std::snprintf(text, sizeof(text), pattern, a, b);
  return text;
}

}  // namespace

Verdict judge(const at::Tensor& frames, const Scene& scene) {
  TESSERA_CHECK(frames.dim() == 4 && frames.size(3) == 3 && frames.scalar_type() == at::kByte,
                "the judge takes uint8 frames [frames, height, width, 3], got ", frames.sizes(), " ",
                frames.scalar_type());
  const at::Tensor cpu = frames.cpu().contiguous();
  const auto& colour = colours().at(scene.colour);
  const double side = static_cast<double>(std::min(cpu.size(1), cpu.size(2)));
  const double nominal_area = M_PI * std::pow(kRadiusFraction * side, 2);
  std::vector<Centroid> centroids;
  for (int64_t f = 0; f < cpu.size(0); ++f) {
    centroids.push_back(colour_centroid(cpu[f], colour.rgb));
    if (static_cast<double>(centroids.back().pixels) < kMinimumAreaFraction * nominal_area) {
      return {false, "frame " + std::to_string(f) + ": only " + std::to_string(centroids.back().pixels) + " " +
                         colour.name + " pixels"};
    }
  }
  const Centroid& first = centroids.front();
  const Centroid& last = centroids.back();
  if (scene.motion == Motion::none) {
    for (const auto& centroid : centroids) {
      if (!in_place(scene.placement, centroid.y, centroid.x)) {
        return {false, format("centroid (%.2f, %.2f) not in ", centroid.y, centroid.x) +
                           placement_words(scene.placement)};
      }
    }
    return {true, format("centroid (%.2f, %.2f) in ", first.y, first.x) + placement_words(scene.placement)};
  }
  const double dy = last.y - first.y, dx = last.x - first.x;
  double along = 0, across = 0;
  switch (scene.motion) {
    case Motion::right: along = dx, across = dy; break;
    case Motion::left: along = -dx, across = dy; break;
    case Motion::down: along = dy, across = dx; break;
    case Motion::up: along = -dy, across = dx; break;
    case Motion::none: break;
  }
  const bool moved = cpu.size(0) > 1 && along >= 1.0 / 6.0 && along > std::abs(across);
  return {moved, format("centroid moved (%+.2f, %+.2f)", dy, dx) + (moved ? " " : " not ") + "moving " +
                     motion_word(scene.motion)};
}

std::vector<Scene> judge_scenes() {
  std::vector<Scene> scenes;
  int turn = 0;
  for (int colour = 0; colour < static_cast<int>(colours().size()); ++colour) {
    for (ShapeKind shape : shape_kinds()) {
      scenes.push_back({colour, shape, placements()[turn % placements().size()], Motion::none});
      ++turn;
    }
  }
  for (int colour = 0; colour < static_cast<int>(colours().size()); ++colour) {
    const ShapeKind shape = shape_kinds()[colour % shape_kinds().size()];
    scenes.push_back({colour, shape, Placement::center, motions()[colour % motions().size()]});
  }
  return scenes;
}

}  // namespace tessera::shapes
