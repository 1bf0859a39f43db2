// read_jpeg: libjpeg's decoder with the settings PIL's JpegDecode uses (the library's defaults: the accurate integer
// IDCT, fancy upsampling), so that the pixels equal PIL's Image.open(path).convert("RGB") with the same libjpeg-turbo.
#include <sys/stat.h>

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: the warning codes

#include "common/check.h"
#include "src/io/image_file.h"

namespace tessera::io {
namespace {

// libjpeg reports fatal errors through error_exit, which must not return: it jumps back to decode_jpeg's setjmp.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool unsupported;  // the message is ours (the file decodes but is refused), not libjpeg's
};

// PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS, 89478485, doubled: above it Image.open raises).
constexpr uint64_t kMaxPixels = 2 * uint64_t{89478485};

extern "C" void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// A file that ends early makes libjpeg warn and pad with grey; PIL refuses it ("image file is truncated"), and so do
// we. Other warnings (extraneous bytes, say) PIL decodes through silently, as here.
extern "C" void jpeg_warn(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(info);
}

// PIL's CMYK-to-RGB (Convert.c's cmyk2rgb) on Adobe-inverted CMYK as libjpeg returns it: PIL first inverts the
// bytes ("CMYK;I"), then takes each channel as k' - c'k'/255 with k' = 255 - K, rounding as its MULDIV255.
uint8_t cmyk_channel(uint8_t stored_ink, uint8_t stored_black) {
  const int ink = 255 - stored_ink;
  const int not_black = stored_black;  // 255 - (255 - stored)
  const int product = ink * not_black + 128;
  return static_cast<uint8_t>(std::clamp(not_black - (((product >> 8) + product) >> 8), 0, 255));
}

// Decodes `bytes` into `image` (rows of `scratch` hold libjpeg's output). Returns false with libjpeg's message in
// `error` on failure. All objects with destructors live in the caller, so the longjmp skips none (C++ allows setjmp
// only where a throw in its place would run no destructor).
bool decode_jpeg(const std::string& bytes, FrameBuffer& image, std::vector<uint8_t>& scratch, std::string& error) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_warn;
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_decompress(&info);
    error = errors.message;
    if (!errors.unsupported) error += " (the file is truncated or corrupt; re-export it as PNG or JPEG)";
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  // PIL names the mode by the number of components and leaves the colour transform to libjpeg's reading of the
  // JFIF/Adobe markers.
  int channels = 0;
  switch (info.num_components) {
    case 1: info.out_color_space = JCS_GRAYSCALE; channels = 1; break;
    case 3: info.out_color_space = JCS_RGB; channels = 3; break;
    case 4: info.out_color_space = JCS_CMYK; channels = 4; break;  // YCCK is converted to CMYK by libjpeg
    default:
      std::snprintf(errors.message, sizeof errors.message,
                    "it has %d colour components; greyscale (1), colour (3) and CMYK (4) JPEGs are taken: re-export "
                    "it as RGB",
                    info.num_components);
      errors.unsupported = true;
      std::longjmp(errors.jump, 1);
  }
  if (uint64_t{info.image_width} * info.image_height > kMaxPixels) {
    std::snprintf(errors.message, sizeof errors.message,
                  "it is %ux%u pixels, over PIL's decompression-bomb limit of %llu pixels: downscale it first",
                  static_cast<unsigned>(info.image_width), static_cast<unsigned>(info.image_height),
                  static_cast<unsigned long long>(kMaxPixels));
    errors.unsupported = true;
    std::longjmp(errors.jump, 1);
  }
  jpeg_start_decompress(&info);
  const auto width = static_cast<int64_t>(info.output_width);
  const auto height = static_cast<int64_t>(info.output_height);
  image.frames = 1;
  image.height = height;
  image.width = width;
  image.rgb.resize(height * width * 3);
  scratch.resize(width * channels);
  while (info.output_scanline < info.output_height) {
    const int64_t row = info.output_scanline;
    JSAMPROW line = scratch.data();
    jpeg_read_scanlines(&info, &line, 1);
    uint8_t* out = image.rgb.data() + row * width * 3;
    for (int64_t x = 0; x < width; ++x) {
      const uint8_t* in = scratch.data() + x * channels;
      if (channels == 1) {
        out[x * 3] = out[x * 3 + 1] = out[x * 3 + 2] = in[0];
      } else if (channels == 3) {
        std::copy(in, in + 3, out + x * 3);
      } else {
        for (int c = 0; c < 3; ++c) out[x * 3 + c] = cmyk_channel(in[c], in[3]);
      }
    }
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

}  // namespace

FrameBuffer read_jpeg(const std::string& path) {
  struct stat status {};
  TESSERA_CHECK(::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode), "JPEG file ", path,
                " does not exist (or is not a regular file); check the path");
  std::ifstream file(path, std::ios::binary);
  TESSERA_CHECK(file.good(), "cannot open JPEG file ", path, "; check its permissions");
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  TESSERA_CHECK(!file.bad(), "cannot read JPEG file ", path, "; check the file");
  FrameBuffer image;
  std::vector<uint8_t> scratch;
  std::string error;
  TESSERA_CHECK(decode_jpeg(bytes, image, scratch, error), "cannot decode JPEG file ", path, ": ", error);
  return image;
}

}  // namespace tessera::io
