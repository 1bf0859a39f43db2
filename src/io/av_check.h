#pragma once
// One way to check FFmpeg's integer return codes: a negative code throws tessera::Error naming the call,
// what we were doing (`context`, e.g. "writing out.mp4") and FFmpeg's own text for the code.
#include <string>

#include "common/check.h"

namespace tessera::io {

// av_strerror's text for an FFmpeg error code.
std::string av_error_text(int code);

}  // namespace tessera::io

#define TESSERA_CHECK_AV(call, context)                                         \
  do {                                                                          \
    const int tessera_av_code_ = (call);                                        \
    TESSERA_CHECK(tessera_av_code_ >= 0, context, ": ", #call,                  \
                  " failed: ", ::tessera::io::av_error_text(tessera_av_code_)); \
  } while (0)
