// The embedded model's world: captions, the renderer, the judge and the data set (src/shapes/).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "src/shapes/shapes_dataset.h"
#include "src/shapes/shapes_judge.h"
#include "src/shapes/shapes_renderer.h"
#include "src/shapes/shapes_scene.h"

namespace tessera::shapes {
namespace {

at::Tensor to_uint8_frames(const at::Tensor& pixels) {  // [3, F, H, W] in [-1, 1] -> [F, H, W, 3]
  return ((pixels + 1) * 127.5).round().clamp(0, 255).to(at::kByte).permute({1, 2, 3, 0}).contiguous();
}

int64_t frames_for(const Scene& scene) { return scene.motion == Motion::none ? 1 : 4; }

TEST(ShapesScene, EveryCaptionParsesBackToItsScene) {
  const auto scenes = all_scenes();
  EXPECT_EQ(scenes.size(), colours().size() * 3 * 5 + colours().size() * 3 * 4);
  std::set<std::string> captions;
  for (const Scene& scene : scenes) {
    const std::string text = caption(scene);
    captions.insert(text);
    const auto parsed = parse_caption("  " + text + " ");
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(caption(*parsed), text);
  }
  EXPECT_EQ(captions.size(), scenes.size());
  EXPECT_EQ(caption(*parse_caption("RED Circle top LEFT")), "red circle top left");
  EXPECT_FALSE(parse_caption("red circle").has_value());
  EXPECT_FALSE(parse_caption("purple circle center").has_value());
}

TEST(ShapesScene, CaptionsUseOnlyTheVocabulary) {
  const auto words = vocabulary();
  const std::set<std::string> known(words.begin(), words.end());
  EXPECT_EQ(known.size(), words.size());
  for (const Scene& scene : all_scenes()) {
    std::istringstream stream(caption(scene));
    std::string word;
    while (stream >> word) EXPECT_TRUE(known.count(word)) << word;
  }
}

TEST(ShapesRenderer, DrawsTheColourAtThePlaceOnBlack) {
  const Scene scene{0, ShapeKind::square, Placement::top_right, Motion::none};
  const at::Tensor pixels = render(scene, 1, 32, 32);
  ASSERT_EQ(pixels.sizes(), at::IntArrayRef({3, 1, 32, 32}));
  EXPECT_EQ(pixels.min().item<float>(), -1.0f);
  EXPECT_EQ(pixels.max().item<float>(), 1.0f);
  // Red only: green and blue stay black everywhere.
  EXPECT_EQ(pixels[1].max().item<float>(), -1.0f);
  EXPECT_EQ(pixels[2].max().item<float>(), -1.0f);
  // Inside the top-right quadrant, nothing in the bottom half.
  const at::Tensor red = pixels[0][0];  // [height, width]
  EXPECT_EQ(red.slice(0, 16).max().item<float>(), -1.0f);
  EXPECT_EQ(red.slice(1, 0, 16).max().item<float>(), -1.0f);
  EXPECT_GT(red.slice(0, 0, 16).slice(1, 16).max().item<float>(), 0.9f);
}

TEST(ShapesRenderer, ShapesDiffer) {
  const at::Tensor circle = render({2, ShapeKind::circle, Placement::center, Motion::none}, 1, 32, 32);
  const at::Tensor square = render({2, ShapeKind::square, Placement::center, Motion::none}, 1, 32, 32);
  const at::Tensor triangle = render({2, ShapeKind::triangle, Placement::center, Motion::none}, 1, 32, 32);
  EXPECT_GT((circle - square).abs().sum().item<float>(), 10.0f);
  EXPECT_GT((circle - triangle).abs().sum().item<float>(), 10.0f);
  // A square fills its corners, a circle does not; a triangle is wider at the bottom than at the top.
  const auto blue = [](const at::Tensor& t, int64_t y, int64_t x) { return t[2][0][y][x].item<float>(); };
  EXPECT_GT(blue(square, 11, 11), blue(circle, 11, 11));
  EXPECT_GT(blue(triangle, 20, 12), blue(triangle, 12, 12));
}

TEST(ShapesJudge, AcceptsEveryRenderedSceneAtOddSizesToo) {
  for (const auto& size : std::vector<std::pair<int64_t, int64_t>>{{32, 32}, {48, 40}}) {
    for (const Scene& scene : all_scenes()) {
      const Verdict verdict = judge(to_uint8_frames(render(scene, frames_for(scene), size.first, size.second,
                                                           {0.03, -0.03, 0.9})),
                                    scene);
      EXPECT_TRUE(verdict.correct) << caption(scene) << ": " << verdict.reason;
    }
  }
}

TEST(ShapesJudge, RejectsTheWrongColourPlaceOrDirection) {
  const Scene top_left{1, ShapeKind::circle, Placement::top_left, Motion::none};
  const at::Tensor frames = to_uint8_frames(render(top_left, 1, 32, 32));
  EXPECT_FALSE(judge(frames, {1, ShapeKind::circle, Placement::bottom_right, Motion::none}).correct);
  EXPECT_FALSE(judge(frames, {1, ShapeKind::circle, Placement::center, Motion::none}).correct);
  EXPECT_FALSE(judge(frames, {0, ShapeKind::circle, Placement::top_left, Motion::none}).correct);
  const Scene right{3, ShapeKind::square, Placement::center, Motion::right};
  const at::Tensor clip = to_uint8_frames(render(right, 4, 32, 32));
  EXPECT_TRUE(judge(clip, right).correct);
  EXPECT_FALSE(judge(clip, {3, ShapeKind::square, Placement::center, Motion::left}).correct);
  EXPECT_FALSE(judge(clip, {3, ShapeKind::square, Placement::center, Motion::down}).correct);
  // A still clip does not move, and an empty frame holds no shape.
  EXPECT_FALSE(judge(to_uint8_frames(render(top_left, 4, 32, 32)), {1, ShapeKind::circle, Placement::center,
                                                                     Motion::right}).correct);
  EXPECT_FALSE(judge(at::zeros({1, 32, 32, 3}, at::kByte), top_left).correct);
}

TEST(ShapesDataset, IsDeterministicFromItsSeedAndCaptionsMatchPixels) {
  ShapesDataset first(7), second(7), other(8);
  const ShapesBatch a = first.next(6, 4, 32, 32);
  const ShapesBatch b = second.next(6, 4, 32, 32);
  const ShapesBatch c = other.next(6, 4, 32, 32);
  EXPECT_TRUE(at::equal(a.pixels, b.pixels));
  EXPECT_EQ(a.captions, b.captions);
  EXPECT_FALSE(at::equal(a.pixels, c.pixels));
  ASSERT_EQ(a.pixels.sizes(), at::IntArrayRef({6, 3, 4, 32, 32}));
  for (int64_t i = 0; i < 6; ++i) {
    const auto scene = parse_caption(a.captions[i]);
    ASSERT_TRUE(scene.has_value()) << a.captions[i];
    EXPECT_TRUE(judge(to_uint8_frames(a.pixels[i]), *scene).correct) << a.captions[i];
  }
  const ShapesBatch stills = first.next(5, 1, 32, 32);
  for (const auto& text : stills.captions) EXPECT_EQ(parse_caption(text)->motion, Motion::none) << text;
}

}  // namespace
}  // namespace tessera::shapes
