#include "src/io/frame_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "common/join.h"
#include "common/check.h"
#include "common/writable_file.h"
#include "src/io/frame_grid.h"
#include "src/io/frame_scale.h"
#include "src/io/image_file.h"
#include "src/io/video_file.h"

namespace tessera::io {
namespace {

std::string path_in(const std::string& directory, const std::string& name) {
  return directory == "/" ? "/" + name : directory + "/" + name;
}

std::string file_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The lower-case extension with its dot, or "" when the name has none.
std::string extension_of(const std::string& path) {
  const std::string name = file_name(path);
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return "";
  std::string extension = name.substr(dot);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  TESSERA_CHECK(file != nullptr, "cannot create ", path, ": ", std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const int write_error = errno;
  // fclose flushes, so a full disk may only show here.
  const bool closed = std::fclose(file) == 0;
  TESSERA_CHECK(written && closed, "writing ", path, " failed: ", std::strerror(written ? errno : write_error));
}

// Runs `write_to(temporary)` and renames the result to `path`; removes the temporary on any failure.
void write_through_temporary(const std::string& path, const std::function<void(const std::string&)>& write_to) {
  const std::string temporary =
      path_in(parent_directory(path), "." + file_name(path) + ".tmp." + std::to_string(static_cast<long>(::getpid())));
  try {
    write_to(temporary);
    const int renamed = std::rename(temporary.c_str(), path.c_str()) == 0 ? 0 : errno;
    TESSERA_CHECK(renamed == 0, "cannot rename ", temporary, " to ", path, ": ", std::strerror(renamed));
  } catch (...) {
    std::remove(temporary.c_str());
    throw;
  }
}

// One PNG image: the frame, or the frames left to right.
std::string encode_png_of(FramesView frames) {
  if (frames.frames == 1) return encode_png(frames.rgb, frames.height, frames.width);
  const FrameBuffer strip = compose_strip(frames, 1, 0);
  return encode_png(strip.rgb.data(), strip.height, strip.width);
}

}  // namespace

std::vector<std::string> supported_output_extensions() {
  if (!video_output_available()) return {".png"};
  return {".png", ".mp4", ".gif"};
}

void check_writable_output(const std::string& path) {
  const std::vector<std::string> supported = supported_output_extensions();
  const std::string extension = extension_of(path);
  const std::string problem =
      extension.empty() ? std::string("the name has no extension") : "unsupported extension " + extension;
  TESSERA_CHECK(std::find(supported.begin(), supported.end(), extension) != supported.end(), "cannot write ", path,
                ": ", problem, "; supported output extensions are ", join(supported));
  check_writable_file(path);
}

void write_frames(const std::string& path, FramesView frames, const FrameWriteOptions& options) {
  check_writable_output(path);
  check_frames(frames, "writing " + path);
  TESSERA_CHECK(options.upscale >= 1, "writing ", path, ": upscale must be at least 1, got ", options.upscale);
  TESSERA_CHECK(options.fps >= 1, "writing ", path, ": fps must be at least 1, got ", options.fps);

  FrameBuffer enlarged;
  if (options.upscale > 1) {
    enlarged = upscale_nearest(frames, options.upscale);
    frames = enlarged.view();
  }
  const std::string extension = extension_of(path);
  if (extension == ".png") {
    const std::string png = encode_png_of(frames);
    write_through_temporary(path, [&](const std::string& temporary) { write_bytes(temporary, png); });
  } else if (extension == ".mp4") {
    write_through_temporary(path, [&](const std::string& temporary) { write_mp4(temporary, frames, options.fps); });
  } else if (extension == ".gif") {
    write_through_temporary(path, [&](const std::string& temporary) { write_gif(temporary, frames, options.fps); });
  } else {
    TESSERA_INTERNAL_ASSERT(false, "check_writable_output accepted extension ", extension);
  }
}

}  // namespace tessera::io
