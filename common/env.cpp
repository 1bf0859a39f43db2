#include "common/env.h"

#include <cstdlib>

#include "common/check.h"

namespace tessera::env {

double seconds(const char* name, double fallback) {
  const char* raw = std::getenv(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  char* end = nullptr;
  const double value = std::strtod(raw, &end);
  TESSERA_CHECK(end != raw && *end == '\0' && value > 0, name, "='", raw,
                "' is not a positive number of seconds; unset it or set e.g. ", name, "=600");
  return value;
}

std::string string(const char* name, const std::string& fallback) {
  const char* raw = std::getenv(name);
  return (raw == nullptr || *raw == '\0') ? fallback : std::string(raw);
}

}  // namespace tessera::env
