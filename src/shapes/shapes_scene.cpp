#include "src/shapes/shapes_scene.h"

#include "common/join.h"
#include "src/models/text/prompt_words.h"

namespace tessera::shapes {

const std::vector<Colour>& colours() {
  static const std::vector<Colour> table = {
      {"red", {255, 0, 0}},    {"green", {0, 255, 0}},  {"blue", {0, 0, 255}},
      {"yellow", {255, 255, 0}}, {"cyan", {0, 255, 255}}, {"magenta", {255, 0, 255}},
  };
  return table;
}

const std::vector<ShapeKind>& shape_kinds() {
  static const std::vector<ShapeKind> kinds = {ShapeKind::circle, ShapeKind::square, ShapeKind::triangle};
  return kinds;
}

const std::vector<Placement>& placements() {
  static const std::vector<Placement> table = {Placement::top_left, Placement::top_right, Placement::bottom_left,
                                               Placement::bottom_right, Placement::center};
  return table;
}

const std::vector<Motion>& motions() {
  static const std::vector<Motion> table = {Motion::left, Motion::right, Motion::up, Motion::down};
  return table;
}

const char* shape_name(ShapeKind shape) {
  switch (shape) {
    case ShapeKind::circle: return "circle";
    case ShapeKind::square: return "square";
    case ShapeKind::triangle: return "triangle";
  }
  return "";
}

const char* placement_words(Placement placement) {
  switch (placement) {
    case Placement::top_left: return "top left";
    case Placement::top_right: return "top right";
    case Placement::bottom_left: return "bottom left";
    case Placement::bottom_right: return "bottom right";
    case Placement::center: return "center";
  }
  return "";
}

const char* motion_word(Motion motion) {
  switch (motion) {
    case Motion::none: return "";
    case Motion::left: return "left";
    case Motion::right: return "right";
    case Motion::up: return "up";
    case Motion::down: return "down";
  }
  return "";
}

std::string caption(const Scene& scene) {
  std::string text = std::string(colours().at(scene.colour).name) + " " + shape_name(scene.shape) + " ";
  if (scene.motion == Motion::none) return text + placement_words(scene.placement);
  return text + "moving " + motion_word(scene.motion);
}

std::optional<Scene> parse_caption(const std::string& text) {
  const std::string normalised = join(prompt_words(text), " ");
  // The vocabulary is small enough that matching against every caption is both simple and exact.
  for (const Scene& scene : all_scenes()) {
    if (caption(scene) == normalised) return scene;
  }
  return std::nullopt;
}

std::vector<std::string> vocabulary() {
  std::vector<std::string> words;
  for (const auto& colour : colours()) words.emplace_back(colour.name);
  for (ShapeKind shape : shape_kinds()) words.emplace_back(shape_name(shape));
  for (const char* word : {"top", "bottom", "left", "right", "center", "moving", "up", "down"}) words.emplace_back(word);
  return words;
}

std::vector<Scene> all_scenes() {
  std::vector<Scene> scenes;
  for (int colour = 0; colour < static_cast<int>(colours().size()); ++colour) {
    for (ShapeKind shape : shape_kinds()) {
      for (Placement placement : placements()) scenes.push_back({colour, shape, placement, Motion::none});
    }
  }
  for (int colour = 0; colour < static_cast<int>(colours().size()); ++colour) {
    for (ShapeKind shape : shape_kinds()) {
      for (Motion motion : motions()) scenes.push_back({colour, shape, Placement::center, motion});
    }
  }
  return scenes;
}

}  // namespace tessera::shapes
