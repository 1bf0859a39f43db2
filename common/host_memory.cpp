#include "common/host_memory.h"

#include <fstream>
#include <string>

namespace tessera {

int64_t host_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  const std::string key = "MemAvailable:";
  while (std::getline(meminfo, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size())) * 1024;  // "MemAvailable: 123 kB"
  }
  return 0;
}

}  // namespace tessera
