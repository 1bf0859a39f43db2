#include "src/io/image_file.h"

#include <png.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "common/check.h"

namespace tessera::io {
namespace {

// libpng's simplified API keeps its last error text in the image; an empty message reads badly.
std::string png_message(const png_image& image) {
  return image.message[0] != '\0' ? std::string(image.message) : std::string("unknown libpng error");
}

// Frees libpng's read state however read_png leaves.
struct PngImageGuard {
  png_image& image;
  ~PngImageGuard() { png_image_free(&image); }
};

}  // namespace

std::string encode_png(const uint8_t* rgb, int64_t height, int64_t width) {
  TESSERA_CHECK(rgb != nullptr && height >= 1 && width >= 1, "encode_png needs at least 1x1 pixels, got ", height, "x",
                width);
  // The simplified API takes 32-bit sizes and a signed 32-bit row stride.
  TESSERA_CHECK(height <= std::numeric_limits<png_int_32>::max() && width * 3 <= std::numeric_limits<png_int_32>::max(),
                "image of ", height, "x", width, " is too large for a PNG file");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  PngImageGuard guard{image};

  // First call sizes the output, second fills it.
  png_alloc_size_t size = 0;
  const bool sized = png_image_write_to_memory(&image, nullptr, &size, 0, rgb, 0, nullptr) != 0;
  TESSERA_CHECK(sized && size > 0, "PNG encoding of a ", height, "x", width, " image failed: ", png_message(image));
  std::string encoded(size, '\0');
  const bool written = png_image_write_to_memory(&image, encoded.data(), &size, 0, rgb, 0, nullptr) != 0;
  TESSERA_CHECK(written, "PNG encoding of a ", height, "x", width, " image failed: ", png_message(image));
  encoded.resize(size);
  return encoded;
}

FrameBuffer read_png(const std::string& path) {
  struct stat status {};
  TESSERA_CHECK(::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode), "PNG file ", path,
                " does not exist (or is not a regular file); check the path");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  PngImageGuard guard{image};
  TESSERA_CHECK(png_image_begin_read_from_file(&image, path.c_str()) != 0, "cannot read ", path,
                " as a PNG file: ", png_message(image));
  image.format = PNG_FORMAT_RGB;
  FrameBuffer buffer = make_frames(1, image.height, image.width);
  TESSERA_INTERNAL_ASSERT(buffer.rgb.size() == PNG_IMAGE_SIZE(image), path);
  // No background colour: libpng composes any alpha onto the buffer, which is zero (black).
  TESSERA_CHECK(png_image_finish_read(&image, nullptr, buffer.rgb.data(), 0, nullptr) != 0, "cannot decode PNG file ",
                path, ": ", png_message(image));
  return buffer;
}

FrameBuffer read_image(const std::string& path) {
  struct stat status {};
  TESSERA_CHECK(::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode), "image file ", path,
                " does not exist (or is not a regular file); check the path");
  // The format by its signature, not its name: PNG's eight bytes, JPEG's start-of-image marker and the next marker.
  constexpr std::array<unsigned char, 8> png_signature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  constexpr std::array<unsigned char, 3> jpeg_signature{0xff, 0xd8, 0xff};
  std::array<unsigned char, 8> head{};
  std::FILE* file = std::fopen(path.c_str(), "rb");
  TESSERA_CHECK(file != nullptr, "cannot open image file ", path, ": ", std::strerror(errno),
                "; check its permissions");
  const size_t read = std::fread(head.data(), 1, head.size(), file);
  std::fclose(file);
  if (read >= png_signature.size() && std::equal(png_signature.begin(), png_signature.end(), head.begin())) {
    return read_png(path);
  }
  if (read >= jpeg_signature.size() && std::equal(jpeg_signature.begin(), jpeg_signature.end(), head.begin())) {
    return read_jpeg(path);
  }
  TESSERA_CHECK(false, "image file ", path, " is neither a PNG nor a JPEG (by its first bytes",
                read == 0 ? ", it is empty" : "", "); images are read from PNG or JPEG files: convert it to one");
  return {};
}

}  // namespace tessera::io
