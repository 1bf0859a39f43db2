#include "src/models/wan_vae/feature_cache.h"

#include <ATen/ATen.h>

namespace tessera::wan_vae {

namespace {
constexpr int64_t kKeptFrames = 2;  // diffusers' CACHE_T: a 3-frame causal window needs two frames before
}

CachedFrames& FeatureCache::next_slot() {
  if (next_ == slots_.size()) slots_.emplace_back();
  return slots_[next_++];
}

at::Tensor frames_to_keep(const at::Tensor& input, const at::Tensor& previous) {
  const int64_t frames = input.size(2);
  const int64_t kept = std::min(frames, kKeptFrames);
  // A copy, so that the chunk's activation is not held alive by a view into it.
  at::Tensor last = input.narrow(2, frames - kept, kept).clone();
  if (kept < kKeptFrames && previous.defined()) last = at::cat({previous.narrow(2, previous.size(2) - 1, 1), last}, 2);
  return last;
}

}  // namespace tessera::wan_vae
