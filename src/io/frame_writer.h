#pragma once
// Generated images and videos to files, the format chosen by the extension. Writes are atomic: a file
// appears complete under its name or not at all.
#include <string>
#include <vector>

#include "src/io/frames.h"

namespace tessera::io {

struct FrameWriteOptions {
  int fps = 8;      // frames per second for videos
  int upscale = 1;  // nearest-neighbour enlargement, >= 1 (4 makes the embedded model's 32x32 viewable)
};

// The extensions write_frames understands, lower case with the dot: ".png", ".mp4", ".gif".
std::vector<std::string> supported_output_extensions();

// Throws a tessera::Error saying what to change when `path` cannot be written: an extension we do not
// support, or whatever check_writable_file (common/writable_file.h) refuses. Call it before expensive work.
void check_writable_output(const std::string& path);

// Writes `frames` to `path` by its extension (any case): .png the single frame, or several frames as a
// horizontal strip with 1-pixel black separators; .mp4 an H.264 video; .gif an animated GIF. The file is
// encoded under a hidden temporary name in the same directory (".<name>.tmp.<pid>") and renamed into
// place; on any failure the temporary file is removed and `path` is left as it was.
void write_frames(const std::string& path, FramesView frames, const FrameWriteOptions& options = {});

}  // namespace tessera::io
