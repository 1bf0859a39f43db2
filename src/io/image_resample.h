#pragma once
// Resizing 8-bit RGB images exactly as Pillow's Image.resize does (its two-pass separable convolution with
// fixed-point coefficients), so that preprocessing written against PIL gives the same pixels here.
#include <cstdint>

#include "src/io/frames.h"

namespace tessera::io {

enum class Resample { nearest, bilinear, bicubic, lanczos };

// PIL's integer codes (Image.Resampling): 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic. Throws naming the codes taken
// for any other (box 4 and hamming 5 are not implemented).
Resample resample_from_pil(int code);

// One frame (image.frames == 1) resized to height x width, bit-equal to Pillow's
// Image.resize((width, height), resample=filter) on an RGB image. The same size returns a copy.
FrameBuffer resize_image(const FrameBuffer& image, int64_t height, int64_t width, Resample filter);

}  // namespace tessera::io
