#pragma once
// EXIF orientation: what diffusers' load_image applies (PIL.ImageOps.exif_transpose) before convert("RGB"), so that
// a phone photo stored sideways with an orientation tag is used upright.
#include <string>

#include "src/io/frames.h"

namespace tessera::io {

// The EXIF orientation (1 to 8) in a JPEG's first "Exif" APP1 segment or a PNG's eXIf chunk, given the file's bytes;
// 1 (as stored) when there is none, or when it is unreadable or out of range (PIL then leaves the image as it is).
int exif_orientation(const std::string& file_bytes);

// `image` (one frame) turned upright for `orientation` as PIL's exif_transpose: 2 mirrored, 3 turned 180 degrees,
// 4 flipped, 5 transposed, 6 turned 90 degrees clockwise, 7 transversed, 8 turned 90 degrees anticlockwise; 1 and
// anything else unchanged. 5 to 8 swap height and width.
FrameBuffer apply_exif_orientation(const FrameBuffer& image, int orientation);

// diffusers.utils.load_image for a local file: read_image (PNG or JPEG), then the EXIF orientation applied.
FrameBuffer load_image(const std::string& path);

}  // namespace tessera::io
