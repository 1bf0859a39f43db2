#include "kernels/cpu_block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/env.h"

namespace tessera {
namespace {

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(c10::Allocator* underlying) : underlying_(underlying) {}

  c10::DataPtr allocate(size_t bytes) override {
    // Outside every scope (most of a run) nothing is cached: no lock, and no malloc under one.
    if (bytes < static_cast<size_t>(kMinCachedBytes) || depth_.load() == 0) return underlying_->allocate(bytes);
    void* data = nullptr;
    {
      std::lock_guard lock(mutex_);
      auto found = free_.find(bytes);
      if (found != free_.end() && !found->second.empty()) {
        data = found->second.back();
        found->second.pop_back();
        stats_.cached_bytes -= static_cast<int64_t>(bytes);
        ++stats_.reused;
      } else {
        ++stats_.allocated;
      }
    }
    if (data == nullptr) data = c10::alloc_cpu(bytes);
    {
      std::lock_guard lock(mutex_);
      live_[data] = bytes;
    }
    // The context is the data itself, as the default allocator's: oneDNN's scratchpads go through
    // raw_allocate/raw_deallocate, which need it so.
    return {data, data, &release, c10::Device(c10::kCPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* destination, const void* source, std::size_t count) const override {
    default_copy_data(destination, source, count);
  }

  void enter() {
    std::lock_guard lock(mutex_);
    ++depth_;
  }

  void leave() {
    std::vector<void*> dropped;
    {
      std::lock_guard lock(mutex_);
      TORCH_INTERNAL_ASSERT(depth_ > 0, "a CpuBlockCacheScope ended that never began");
      if (--depth_ > 0) return;
      for (auto& [bytes, blocks] : free_) dropped.insert(dropped.end(), blocks.begin(), blocks.end());
      free_.clear();
      stats_.cached_bytes = 0;
    }
    for (void* data : dropped) c10::free_cpu(data);
  }

  CpuBlockCacheStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  static void release(void* data);

  // Takes back a block this allocator handed out: into the cache when a scope is open and it has room (true), or
  // to be freed (false). Blocks the underlying allocator made are not ours (nullopt).
  std::optional<bool> take_back(void* data) {
    std::lock_guard lock(mutex_);
    const auto found = live_.find(data);
    if (found == live_.end()) return std::nullopt;
    const size_t bytes = found->second;
    live_.erase(found);
    if (depth_ == 0 || stats_.cached_bytes + static_cast<int64_t>(bytes) > kMaxCachedBytes) return false;
    free_[bytes].push_back(data);
    stats_.cached_bytes += static_cast<int64_t>(bytes);
    return true;
  }

  c10::Allocator* underlying_;
  std::mutex mutex_;
  std::atomic<int> depth_ = 0;  // changed under mutex_, read without it by allocate
  std::unordered_map<void*, size_t> live_;                   // handed out: data -> bytes
  std::unordered_map<size_t, std::vector<void*>> free_;  // cached: bytes -> blocks
  CpuBlockCacheStats stats_;
};

// Installed once and never destroyed: tensors freed during static destruction still call its deleter.
CachingCpuAllocator& caching_allocator() {
  static auto* allocator = [] {
    auto* created = new CachingCpuAllocator(c10::GetDefaultCPUAllocator());
    // Above the default's priority (0); a higher one set by someone else (a profiler's) is left in place.
    c10::SetCPUAllocator(created, /*priority=*/1);
    return created;
  }();
  return *allocator;
}

void CachingCpuAllocator::release(void* data) {
  CachingCpuAllocator& allocator = caching_allocator();
  const std::optional<bool> cached = allocator.take_back(data);
  if (!cached.has_value()) {
    allocator.underlying_->raw_deleter()(data);  // a small block, raw-allocated through us
  } else if (!*cached) {
    c10::free_cpu(data);
  }
}

// TESSERA_CPU_BLOCK_CACHE=0 turns the cache off (every scope does nothing): to measure what it gains, or to give
// memory back as soon as it is freed.
bool cache_wanted() {
  static const bool wanted = env::string("TESSERA_CPU_BLOCK_CACHE", "1") != "0";
  return wanted;
}

}  // namespace

CpuBlockCacheScope::CpuBlockCacheScope() : active_(cache_wanted()) {
  if (active_) caching_allocator().enter();
}

CpuBlockCacheScope::~CpuBlockCacheScope() {
  if (active_) caching_allocator().leave();
}

CpuBlockCacheStats cpu_block_cache_stats() { return caching_allocator().stats(); }

}  // namespace tessera
