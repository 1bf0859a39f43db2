// video_file.h for a build without FFmpeg's libraries: every call says how to get video output.
#include "common/check.h"
#include "src/io/video_file.h"

namespace tessera::io {
namespace {

[[noreturn]] void unavailable(const std::string& path) {
  TESSERA_CHECK(false, "cannot write or read ", path, ": this tessera was built without FFmpeg's libraries; install "
                "libavcodec-dev libavformat-dev libavutil-dev libswscale-dev (scripts/setup.sh does) and rebuild, or "
                "write a .png");
}

}  // namespace

bool video_output_available() { return false; }
void write_mp4(const std::string& path, FramesView, int) { unavailable(path); }
void write_gif(const std::string& path, FramesView, int) { unavailable(path); }
VideoInfo probe_video(const std::string& path) { unavailable(path); }

}  // namespace tessera::io
