// The --cache value parser on arbitrary text: it must refuse bad specs with tessera::Error. Any other
// exception, crash or sanitizer report is a finding.
#include <cstdint>
#include <string_view>

#include "cache/cache_spec.h"
#include "common/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tessera::parse_cache_spec(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const tessera::Error&) {
  }
  return 0;
}
