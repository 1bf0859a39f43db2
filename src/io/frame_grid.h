#pragma once
// Several images side by side in one picture: a contact sheet of prompts or seeds, or a video's frames as
// a strip.
#include <cstdint>
#include <vector>

#include "src/io/frames.h"

namespace tessera::io {

// Tiles the first frame of each image, in order, into rows of `columns` (fewer when there are fewer
// images). Images may differ in size: every cell has the largest height and width, and each image sits
// centred in its cell. `padding` pixels of `background` separate neighbouring cells (none around the edge).
FrameBuffer compose_grid(const std::vector<FramesView>& images, int columns, int padding, uint8_t background);
FrameBuffer compose_grid(const std::vector<FrameBuffer>& images, int columns, int padding, uint8_t background);

// A clip's frames left to right in one image, `padding` pixels of `background` between them.
FrameBuffer compose_strip(FramesView frames, int padding, uint8_t background);

}  // namespace tessera::io
