#include "src/io/image_orientation.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "common/check.h"
#include "src/io/image_file.h"

namespace tessera::io {
namespace {

uint32_t big_endian(const std::string& bytes, size_t at, size_t size) {
  uint32_t value = 0;
  for (size_t i = 0; i < size; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
  return value;
}

// The orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block starting at `tiff`; nullopt if unreadable.
std::optional<int> tiff_orientation(const std::string& bytes, size_t tiff, size_t end) {
  if (end < tiff + 8) return std::nullopt;
  const bool little = bytes.compare(tiff, 2, "II") == 0;
  if (!little && bytes.compare(tiff, 2, "MM") != 0) return std::nullopt;
  const auto read = [&](size_t at, size_t size) -> std::optional<uint32_t> {
    if (at + size > end) return std::nullopt;
    uint32_t value = 0;
    for (size_t i = 0; i < size; ++i) {
      const uint32_t byte = static_cast<uint8_t>(bytes[at + (little ? size - 1 - i : i)]);
      value = (value << 8) | byte;
    }
    return value;
  };
  const auto ifd = read(tiff + 4, 4);
  if (!ifd) return std::nullopt;
  const size_t directory = tiff + *ifd;
  const auto entries = read(directory, 2);
  if (!entries) return std::nullopt;
  for (uint32_t i = 0; i < *entries; ++i) {
    const size_t entry = directory + 2 + size_t{12} * i;
    const auto tag = read(entry, 2);
    const auto type = read(entry + 2, 2);
    if (!tag || !type) return std::nullopt;
    if (*tag != 0x0112) continue;
    // SHORT as the standard says; LONG tolerated.
    const auto value = *type == 3 ? read(entry + 8, 2) : *type == 4 ? read(entry + 8, 4) : std::nullopt;
    if (!value) return std::nullopt;
    return static_cast<int>(*value);
  }
  return std::nullopt;
}

std::optional<int> jpeg_orientation(const std::string& bytes) {
  size_t at = 2;  // past the start-of-image marker
  while (at + 4 <= bytes.size()) {
    if (static_cast<uint8_t>(bytes[at]) != 0xff) return std::nullopt;
    const auto marker = static_cast<uint8_t>(bytes[at + 1]);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xd9 || marker == 0xda) return std::nullopt;  // end of image, or the scan: no more headers
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {  // markers without a length
      at += 2;
      continue;
    }
    const size_t length = big_endian(bytes, at + 2, 2);
    if (length < 2 || at + 2 + length > bytes.size()) return std::nullopt;
    // PIL keeps the first Exif APP1 segment.
    if (marker == 0xe1 && length >= 8 && bytes.compare(at + 4, 6, std::string("Exif\0\0", 6)) == 0) {
      return tiff_orientation(bytes, at + 10, at + 2 + length);
    }
    at += 2 + length;
  }
  return std::nullopt;
}

std::optional<int> png_orientation(const std::string& bytes) {
  size_t at = 8;  // past the signature
  while (at + 12 <= bytes.size()) {
    const size_t length = big_endian(bytes, at, 4);
    if (at + 12 + length > bytes.size()) return std::nullopt;
    if (bytes.compare(at + 4, 4, "eXIf") == 0) return tiff_orientation(bytes, at + 8, at + 8 + length);
    if (bytes.compare(at + 4, 4, "IEND") == 0) return std::nullopt;
    at += 12 + length;
  }
  return std::nullopt;
}

}  // namespace

int exif_orientation(const std::string& file_bytes) {
  std::optional<int> orientation;
  if (file_bytes.size() >= 3 && file_bytes.compare(0, 3, "\xff\xd8\xff") == 0) {
    orientation = jpeg_orientation(file_bytes);
  } else if (file_bytes.size() >= 8 && file_bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    orientation = png_orientation(file_bytes);
  }
  return orientation && *orientation >= 1 && *orientation <= 8 ? *orientation : 1;
}

FrameBuffer apply_exif_orientation(const FrameBuffer& image, int orientation) {
  check_frames(image.view(), "apply_exif_orientation");
  TESSERA_CHECK(image.frames == 1, "apply_exif_orientation takes one image, got ", image.frames, " frames");
  if (orientation < 2 || orientation > 8) return image;
  const int64_t h = image.height;
  const int64_t w = image.width;
  const bool swapped = orientation >= 5;
  FrameBuffer out = make_frames(1, swapped ? w : h, swapped ? h : w);
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      int64_t row = 0;
      int64_t column = 0;
      switch (orientation) {
        case 2: row = y; column = w - 1 - x; break;              // mirror
        case 3: row = h - 1 - y; column = w - 1 - x; break;      // 180 degrees
        case 4: row = h - 1 - y; column = x; break;              // flip
        case 5: row = x; column = y; break;                      // transpose
        case 6: row = h - 1 - x; column = y; break;              // 90 degrees clockwise
        case 7: row = h - 1 - x; column = w - 1 - y; break;      // transverse
        default: row = x; column = w - 1 - y; break;             // 8: 90 degrees anticlockwise
      }
      std::memcpy(out.rgb.data() + (y * out.width + x) * 3, image.rgb.data() + (row * w + column) * 3, 3);
    }
  }
  return out;
}

FrameBuffer load_image(const std::string& path) {
  FrameBuffer image = read_image(path);  // checks the file and its format, naming it
  std::ifstream file(path, std::ios::binary);
  TESSERA_CHECK(file.good(), "cannot open image file ", path, "; check its permissions");
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return apply_exif_orientation(image, exif_orientation(bytes));
}

}  // namespace tessera::io
