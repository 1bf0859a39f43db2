#include "src/models/lora/lora_spec.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common/check.h"

namespace tessera::lora {

LoraSpec parse_lora_spec(const std::string& text) {
  LoraSpec spec{.path = text, .scale = 1.0};
  const auto colon = text.rfind(':');
  if (colon != std::string::npos) {
    const std::string tail = text.substr(colon + 1);
    char* end = nullptr;
    errno = 0;
    const double scale = tail.empty() ? 0.0 : std::strtod(tail.c_str(), &end);
    if (!tail.empty() && end == tail.c_str() + tail.size() && errno == 0) {
      TESSERA_CHECK(std::isfinite(scale), "--lora ", text, ": the scale after ':' must be a finite number");
      spec = LoraSpec{.path = text.substr(0, colon), .scale = scale};
    }
  }
  TESSERA_CHECK(!spec.path.empty(), "--lora ", text, ": give the LoRA file, as PATH or PATH:SCALE");
  return spec;
}

}  // namespace tessera::lora
