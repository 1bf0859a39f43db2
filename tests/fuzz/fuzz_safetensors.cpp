// The safetensors header parser on arbitrary bytes: it must refuse them with tessera::Error or return a
// tensor table the reader can trust. Any other exception, crash or sanitizer report is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/check.h"
#include "src/io/safetensors.h"

namespace {

// Aborts (a finding) when an accepted header breaks a promise that SafetensorsFile::load relies on.
void require(bool condition, const char* promise) {
  if (condition) return;
  std::fprintf(stderr, "accepted safetensors header breaks: %s\n", promise);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto header = tessera::io::parse_safetensors_header(data, size, "fuzz.safetensors");
    require(header.data_offset <= size, "the data section starts inside the file");
    for (const auto& [name, info] : header.tensors) {
      require(info.data_begin <= info.data_end && info.data_end <= size - header.data_offset,
              "every tensor's bytes lie inside the data section");
      require(static_cast<uint64_t>(info.numel()) * c10::elementSize(info.dtype) == info.byte_size(),
              "every tensor's byte span holds exactly its elements");
    }
  } catch (const tessera::Error&) {
  }
  return 0;
}
