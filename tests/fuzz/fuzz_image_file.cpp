// Input images (Wan image-to-video's conditioning image comes from the user): arbitrary bytes as a file for
// load_image (PNG or JPEG by signature through libpng / libjpeg, whose fatal errors come back by longjmp, then the
// EXIF orientation), and the EXIF scan on the bytes directly. tessera::Error is the only allowed failure; a decoded
// image must have the size its buffer says, and small ones are resized as a further check. Any other exception,
// crash or sanitizer report is a finding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/check.h"
#include "src/io/image_file.h"
#include "src/io/image_orientation.h"
#include "src/io/image_resample.h"
#include "tests/fuzz/scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int orientation = tessera::io::exif_orientation(std::string(reinterpret_cast<const char*>(data), size));
  if (orientation < 1 || orientation > 8) std::abort();
  try {
    const std::string& dir = tessera::fuzz::write_scratch_file("input", data, size);
    const tessera::io::FrameBuffer image = tessera::io::load_image(dir + "/input");
    if (image.frames != 1 || image.height < 1 || image.width < 1 ||
        image.rgb.size() != static_cast<size_t>(image.height * image.width * 3)) {
      std::abort();
    }
    if (image.height * image.width <= 64 * 64) {
      const auto resized = tessera::io::resize_image(image, 3, 5, tessera::io::Resample::lanczos);
      if (resized.rgb.size() != 3 * 5 * 3) std::abort();
    }
  } catch (const tessera::Error&) {
  }
  return 0;
}
