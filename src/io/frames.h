#pragma once
// Generated pixels as plain bytes: what every output format (PNG, MP4, GIF) and the grid consume, kept free
// of torch so that file writing compiles fast and can be tested without a model.
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::io {

// A non-owning view of contiguous uint8 RGB frames laid out [frames, height, width, 3].
struct FramesView {
  const uint8_t* rgb = nullptr;
  int64_t frames = 0;
  int64_t height = 0;
  int64_t width = 0;

  int64_t frame_bytes() const { return height * width * 3; }
  const uint8_t* frame(int64_t index) const { return rgb + index * frame_bytes(); }
  // Frame `index` alone, as a one-frame view (no copy).
  FramesView single(int64_t index) const { return {frame(index), 1, height, width}; }
};

// Owned frames in the same layout.
struct FrameBuffer {
  std::vector<uint8_t> rgb;
  int64_t frames = 0;
  int64_t height = 0;
  int64_t width = 0;

  FramesView view() const { return {rgb.data(), frames, height, width}; }
};

// A zero-filled (black) buffer of the given size.
FrameBuffer make_frames(int64_t frames, int64_t height, int64_t width);

// Throws naming `purpose` unless `frames` has pixels: a non-null pointer, at least one frame, positive sizes.
void check_frames(const FramesView& frames, const std::string& purpose);

}  // namespace tessera::io
