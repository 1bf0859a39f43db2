#pragma once
// Image files: PNG through libpng's simplified API (8-bit RGB in, 8-bit RGB out), JPEG through libjpeg (read only).
#include <cstdint>
#include <string>

#include "src/io/frames.h"

namespace tessera::io {

// The PNG encoding of one RGB image, contiguous [height, width, 3].
std::string encode_png(const uint8_t* rgb, int64_t height, int64_t width);

// Reads a PNG file as one RGB frame (alpha, grey and palette images are converted). Throws naming the file
// when it is missing or is not a PNG.
FrameBuffer read_png(const std::string& path);

// Reads a JPEG file as one RGB frame, decoded as PIL's Image.open(path).convert("RGB") does (libjpeg's default
// integer IDCT and fancy upsampling; greyscale replicated, CMYK/YCCK converted as PIL does). Throws naming the file
// when it is missing, is not a JPEG, or is truncated or corrupt.
FrameBuffer read_jpeg(const std::string& path);

// Reads a PNG or a JPEG file as one RGB frame, the format chosen by the file's first bytes (not its extension).
// Throws naming the file and the formats taken when it is neither.
FrameBuffer read_image(const std::string& path);

}  // namespace tessera::io
