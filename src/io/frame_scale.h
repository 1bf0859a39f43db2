#pragma once
// Enlarging frames for viewing: the models make small frames (32x32 for the embedded one), which image
// viewers blur or show as specks.
#include "src/io/frames.h"

namespace tessera::io {

// Every pixel becomes a factor x factor block (nearest neighbour, so no new colours appear). factor >= 1.
FrameBuffer upscale_nearest(FramesView frames, int factor);

}  // namespace tessera::io
