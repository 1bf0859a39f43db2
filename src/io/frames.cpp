#include "src/io/frames.h"

#include "common/check.h"

namespace tessera::io {

FrameBuffer make_frames(int64_t frames, int64_t height, int64_t width) {
  TESSERA_CHECK(frames >= 0 && height >= 0 && width >= 0, "frame sizes must not be negative, got ", frames, "x", height,
                "x", width);
  FrameBuffer buffer;
  buffer.rgb.assign(static_cast<size_t>(frames * height * width * 3), 0);
  buffer.frames = frames;
  buffer.height = height;
  buffer.width = width;
  return buffer;
}

void check_frames(const FramesView& frames, const std::string& purpose) {
  TESSERA_CHECK(frames.frames >= 1 && frames.height >= 1 && frames.width >= 1, purpose,
                ": needs at least one frame of at least 1x1 pixels, got ", frames.frames, " frames of ", frames.height,
                "x", frames.width);
  TESSERA_CHECK(frames.rgb != nullptr, purpose, ": the frames have no pixel data (null pointer)");
}

}  // namespace tessera::io
