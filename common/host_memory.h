#pragma once
// What the host can still give without swapping: MemAvailable of /proc/meminfo (the kernel's estimate, page cache
// it can drop included).
#include <cstdint>

namespace tessera {

// Bytes; 0 where /proc/meminfo has no MemAvailable (not Linux).
int64_t host_available_bytes();

}  // namespace tessera
