// Test binaries load the embedded model and the tiny test model as the CLI does: registered before any test runs
// (an object file of the test binary itself, so the linker keeps it).
#include "src/shapes/embedded_model.h"

namespace {
const bool registered = [] {
  tessera::register_embedded_model();
  return true;
}();
}  // namespace
