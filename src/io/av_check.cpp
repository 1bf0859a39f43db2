#include "src/io/av_check.h"

extern "C" {
#include <libavutil/error.h>
}

namespace tessera::io {

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, text, sizeof(text)) < 0) return "FFmpeg error " + std::to_string(code);
  return text;
}

}  // namespace tessera::io
