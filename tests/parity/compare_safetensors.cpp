// compare_safetensors ACTUAL EXPECTED NAME [TOLERANCE]: exits 0 when tensor NAME of both files agrees to
// max|a - e| <= TOLERANCE x max|e| (default 1e-5), printing the error either way. For end-to-end CLI tests.
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "src/io/safetensors.h"
#include "tests/relative_error.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ACTUAL EXPECTED NAME [TOLERANCE]\n", argv[0]);
    return 2;
  }
  try {
    const double tolerance = argc > 4 ? std::atof(argv[4]) : 1e-5;
    const at::Tensor actual = tessera::io::SafetensorsFile(argv[1]).load(argv[3], at::kDouble);
    const at::Tensor expected = tessera::io::SafetensorsFile(argv[2]).load(argv[3], at::kDouble);
    if (actual.sizes() != expected.sizes()) {
      std::fprintf(stderr, "%s: shapes differ\n", argv[3]);
      return 1;
    }
    const double scale = expected.abs().max().item<double>();
    const double relative = tessera::testing::relative_error(actual, expected);
    const bool close = relative <= tolerance;
    std::printf("%s: max abs error %.3g, max abs expected %.3g, relative %.3g (tolerance %.3g): %s\n", argv[3],
                relative * scale, scale, relative, tolerance, close ? "match" : "MISMATCH");
    return close ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
