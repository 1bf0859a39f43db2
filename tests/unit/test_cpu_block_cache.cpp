// The CPU block cache (kernels/cpu_block_cache.h): inside a scope a freed large block comes back for the next
// allocation of its size; small blocks, other sizes and allocations outside every scope never touch it; the cache
// empties when the outermost scope ends and never holds more than its bound.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "kernels/cpu_block_cache.h"

namespace tessera {
namespace {

constexpr int64_t kFloats = 3 * (int64_t{1} << 20) / 4 + 5;  // 3 MiB and 20 bytes: an odd large size

TEST(CpuBlockCache, ReusesAFreedLargeBlockOfTheSameSizeInsideAScope) {
  const CpuBlockCacheScope scope;
  const CpuBlockCacheStats before = cpu_block_cache_stats();
  const void* first = nullptr;
  {
    at::Tensor block = at::empty({kFloats});
    first = block.data_ptr();
  }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes - before.cached_bytes, kFloats * 4);
  at::Tensor again = at::ones({kFloats});  // a fill writes the reused block like a fresh one
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(cpu_block_cache_stats().reused, before.reused + 1);
  EXPECT_EQ(again.sum().item<double>(), static_cast<double>(kFloats));
  at::Tensor other_size = at::empty({kFloats + 1});  // not the cached size
  EXPECT_NE(other_size.data_ptr(), first);
}

TEST(CpuBlockCache, LeavesSmallBlocksAndAllocationsOutsideScopesAlone) {
  const CpuBlockCacheStats before = cpu_block_cache_stats();
  { at::Tensor outside = at::empty({kFloats}); }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0);
  const CpuBlockCacheScope scope;
  { at::Tensor small = at::empty({1000}); }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0);
  EXPECT_EQ(cpu_block_cache_stats().reused, before.reused);
}

TEST(CpuBlockCache, EmptiesWhenTheOutermostScopeEnds) {
  {
    const CpuBlockCacheScope outer;
    {
      const CpuBlockCacheScope inner;
      { at::Tensor block = at::empty({kFloats}); }
    }
    EXPECT_EQ(cpu_block_cache_stats().cached_bytes, kFloats * 4) << "an inner scope's end keeps the outer's cache";
  }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0);
}

TEST(CpuBlockCache, HoldsNoMoreThanItsBound) {
  const CpuBlockCacheScope scope;
  const int64_t block_floats = kMaxCachedBytes / 4 / 3 + 1;  // three of these pass the bound
  {
    std::vector<at::Tensor> blocks;
    for (int i = 0; i < 3; ++i) blocks.push_back(at::empty({block_floats}));
  }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 2 * block_floats * 4);
}

TEST(CpuBlockCache, BlocksFreedAfterTheScopeAreReturned) {
  at::Tensor survivor;
  {
    const CpuBlockCacheScope scope;
    survivor = at::empty({kFloats});
  }
  survivor = at::Tensor();  // freed outside every scope: returned, not cached
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0);
}

// oneDNN takes its scratchpads through raw_allocate/raw_deallocate, large and small, in and out of scopes.
TEST(CpuBlockCache, ServesRawAllocationsOfEverySize) {
  for (const bool scoped : {false, true}) {
    std::optional<CpuBlockCacheScope> scope;
    if (scoped) scope.emplace();
    // Taken after the first scope (of this process, where the test runs alone) installed the cache's allocator.
    c10::Allocator* allocator = c10::GetCPUAllocator();
    for (const size_t bytes : {size_t{100}, static_cast<size_t>(kFloats * 4)}) {
      void* data = allocator->raw_allocate(bytes);
      std::memset(data, 1, bytes);
      allocator->raw_deallocate(data);
      const bool cached = scoped && bytes >= static_cast<size_t>(kMinCachedBytes);
      EXPECT_EQ(cpu_block_cache_stats().cached_bytes, cached ? static_cast<int64_t>(bytes) : 0) << bytes;
      if (cached) {
        EXPECT_EQ(allocator->raw_allocate(bytes), data);  // and back
        allocator->raw_deallocate(data);
      }
    }
  }
}

}  // namespace
}  // namespace tessera
