#pragma once
// Large CPU blocks kept for reuse while a loop of same-shaped forwards runs (a denoising loop, `forward
// --repeat`, a benchmark's steps). glibc maps each block above its mmap threshold (32 MiB at most) afresh and
// returns it when freed, so the kernel zero-fills every page of it again on first touch: a Wan2.1-1.3B-wide
// feed-forward at 1024 tokens allocates a 37 MB block per layer, about 9000 page faults, every forward. Inside a
// scope, blocks of kMinCachedBytes or more that are freed go to a cache keyed by their exact size and the next
// allocation of that size takes one back; the cache holds at most kMaxCachedBytes and is emptied when the
// outermost scope ends, so nothing stays held after the loop. TESSERA_CPU_BLOCK_CACHE=0 turns it off.
#include <cstdint>

namespace tessera {

struct CpuBlockCacheStats {
  int64_t reused = 0;        // allocations served from the cache
  int64_t allocated = 0;     // large allocations the cache could not serve
  int64_t cached_bytes = 0;  // bytes held free in the cache now
};

// While one is alive (scopes nest), large CPU allocations are cached as above. Installs the caching allocator as
// c10's CPU allocator the first time; outside every scope it passes each allocation through unchanged.
class CpuBlockCacheScope {
 public:
  CpuBlockCacheScope();
  ~CpuBlockCacheScope();
  CpuBlockCacheScope(const CpuBlockCacheScope&) = delete;
  CpuBlockCacheScope& operator=(const CpuBlockCacheScope&) = delete;

 private:
  bool active_;  // false under TESSERA_CPU_BLOCK_CACHE=0
};

inline constexpr int64_t kMinCachedBytes = int64_t{1} << 20;
inline constexpr int64_t kMaxCachedBytes = int64_t{2} << 30;

CpuBlockCacheStats cpu_block_cache_stats();

}  // namespace tessera
