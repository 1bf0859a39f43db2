#pragma once
// Bounds on the sizes a model config may ask for, far beyond any real checkpoint (Wan2.1-14B: width 5120,
// FFN 13824, 40 layers) yet small enough that no product of two of them overflows 64 bits: a typo or a
// corrupt config.json is an error naming the key, not a bad_alloc or a wrapped size.
#include <cstdint>

namespace tessera {

constexpr int64_t kMaxConfigDimension = int64_t{1} << 20;  // any width, channel count, length or patch
constexpr int64_t kMaxConfigLayers = 4096;                 // blocks along the depth

}  // namespace tessera
