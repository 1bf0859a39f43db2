#pragma once
// Video files through FFmpeg's libraries: MP4 (H.264, yuv420p) for generated videos, animated GIF for quick
// looks, and a decoder that tests use to check what was written.
#include <cstdint>
#include <string>

#include "src/io/frames.h"

namespace tessera::io {

// False when tessera was built without FFmpeg: then every function below throws saying how to get it.
bool video_output_available();

// Writes `frames` as an H.264 MP4 at `fps` frames per second, with libx264 when FFmpeg has it (any other
// H.264 encoder otherwise). yuv420p needs even sizes, so an odd width or height gains one replicated
// column or row. Writes `path` directly; frame_writer's write_frames adds the atomic rename.
void write_mp4(const std::string& path, FramesView frames, int fps);

// Writes `frames` as a looping animated GIF at `fps` (rounded to GIF's 1/100 s), in FFmpeg's fixed
// 256-colour palette with dithering.
void write_gif(const std::string& path, FramesView frames, int fps);

// What a video file holds, found by decoding every frame.
struct VideoInfo {
  int64_t frames = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::string codec;  // FFmpeg's short name: "h264", "gif"
};

VideoInfo probe_video(const std::string& path);

}  // namespace tessera::io
