#pragma once
// The world of the embedded default model: one coloured shape on a black background, still at one of five
// places or moving in one of four directions, described by a plain caption ("red circle top left", "blue
// square moving right"). The caption grammar, the renderer (shapes_renderer.h) and the judge
// (shapes_judge.h) all read this one description, so what is trained is what is judged.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera::shapes {

struct Colour {
  const char* name;
  std::array<uint8_t, 3> rgb;
};

enum class ShapeKind { circle, square, triangle };
enum class Placement { top_left, top_right, bottom_left, bottom_right, center };
enum class Motion { none, left, right, up, down };

struct Scene {
  int colour = 0;  // index into colours()
  ShapeKind shape = ShapeKind::circle;
  Placement placement = Placement::center;  // where a still shape sits; ignored when it moves
  Motion motion = Motion::none;
};

const std::vector<Colour>& colours();
const std::vector<ShapeKind>& shape_kinds();
const std::vector<Placement>& placements();
const std::vector<Motion>& motions();  // the four directions, without Motion::none

const char* shape_name(ShapeKind shape);
const char* placement_words(Placement placement);  // "top left", "center"
const char* motion_word(Motion motion);            // "left", ...; "" for none

// "red circle top left" / "blue square moving right".
std::string caption(const Scene& scene);
// The scene a caption describes (words separated by blanks, any case); nullopt for anything else.
std::optional<Scene> parse_caption(const std::string& text);
// Every word a caption can use, in a fixed order: the closed vocabulary of the embedded model.
std::vector<std::string> vocabulary();

// Every still scene (colour x shape x placement), then every moving one (colour x shape x direction).
std::vector<Scene> all_scenes();

}  // namespace tessera::shapes
