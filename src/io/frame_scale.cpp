#include "src/io/frame_scale.h"

#include <algorithm>

#include "common/check.h"

namespace tessera::io {

FrameBuffer upscale_nearest(FramesView frames, int factor) {
  check_frames(frames, "upscaling frames");
  TESSERA_CHECK(factor >= 1, "the upscale factor must be at least 1, got ", factor);
  // A bound that catches a mistyped factor before it asks for gigabytes.
  constexpr int64_t kLargestSide = 65535;
  TESSERA_CHECK(frames.height * factor <= kLargestSide && frames.width * factor <= kLargestSide, "upscaling ",
                frames.height, "x", frames.width, " frames by ", factor, " would exceed ", kLargestSide,
                " pixels a side; choose a smaller upscale factor");
  FrameBuffer result = make_frames(frames.frames, frames.height * factor, frames.width * factor);
  for (int64_t index = 0; index < frames.frames; ++index) {
    const uint8_t* source = frames.frame(index);
    uint8_t* target = result.rgb.data() + index * result.view().frame_bytes();
    for (int64_t y = 0; y < frames.height; ++y) {
      // Widen one source row, then repeat it `factor` times.
      uint8_t* first_row = target + y * factor * result.width * 3;
      for (int64_t x = 0; x < frames.width; ++x) {
        const uint8_t* pixel = source + (y * frames.width + x) * 3;
        for (int repeat = 0; repeat < factor; ++repeat) {
          std::copy(pixel, pixel + 3, first_row + (x * factor + repeat) * 3);
        }
      }
      for (int repeat = 1; repeat < factor; ++repeat) {
        std::copy(first_row, first_row + result.width * 3, first_row + repeat * result.width * 3);
      }
    }
  }
  return result;
}

}  // namespace tessera::io
