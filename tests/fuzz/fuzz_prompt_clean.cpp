// WanPipeline's prompt cleaning on arbitrary bytes (prompts come from users and job files): invalid UTF-8 must be
// refused with tessera::Error, anything else cleaned; cleaning must be idempotent on its own output. Any other
// exception, crash or sanitizer report is a finding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/check.h"
#include "src/models/text/prompt_clean.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const std::string cleaned = tessera::prompt_clean(text);
    // Its output is valid UTF-8 with no edge spaces; cleaning may go on changing it (html is unescaped twice per
    // call, as diffusers does), but must never throw on it.
    tessera::prompt_clean(cleaned);
    if (!cleaned.empty() && (cleaned.front() == ' ' || cleaned.back() == ' ')) std::abort();
  } catch (const tessera::Error&) {
  }
  return 0;
}
