// A scheduler_config.json: load_scheduler must refuse bad files with tessera::Error, and a scheduler it builds
// must be able to make a schedule. Any other exception, crash or sanitizer report is a finding.
#include "common/check.h"
#include "common/log.h"
#include "scratch_file.h"
#include "src/schedulers/scheduler_config.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Ignored keys are logged; thousands of warnings a second would only slow the run.
  tessera::log::configure(0, 1, tessera::log::Level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = tessera::fuzz::write_scratch_file("scheduler_config.json", data, size);
  try {
    const auto scheduler = tessera::load_scheduler(dir);
    scheduler->set_timesteps(4, /*mu=*/1.0);
  } catch (const tessera::Error&) {
  }
  return 0;
}
