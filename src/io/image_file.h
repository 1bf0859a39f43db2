#pragma once
// PNG files through libpng's simplified API: 8-bit RGB in, 8-bit RGB out.
#include <cstdint>
#include <string>

#include "src/io/frames.h"

namespace tessera::io {

// The PNG encoding of one RGB image, contiguous [height, width, 3].
std::string encode_png(const uint8_t* rgb, int64_t height, int64_t width);

// Reads a PNG file as one RGB frame (alpha, grey and palette images are converted). Throws naming the file
// when it is missing or is not a PNG.
FrameBuffer read_png(const std::string& path);

}  // namespace tessera::io
