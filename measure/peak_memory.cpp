#include "measure/peak_memory.h"

#include <malloc.h>

#include <fstream>
#include <string>

namespace tessera {
namespace {

// The value of a "Name:   123 kB" line of /proc/self/status, in bytes.
int64_t status_bytes(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) != 0) continue;
    return std::stoll(line.substr(name.size() + 1)) * 1024;
  }
  return 0;
}

}  // namespace

int64_t resident_bytes() { return status_bytes("VmRSS"); }
int64_t resident_high_water_bytes() { return status_bytes("VmHWM"); }

PeakMemoryWindow::PeakMemoryWindow() {
  malloc_trim(0);
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  reset_ = static_cast<bool>(clear_refs);
  start_bytes_ = resident_bytes();
}

int64_t PeakMemoryWindow::peak_bytes() const { return resident_high_water_bytes(); }

}  // namespace tessera
