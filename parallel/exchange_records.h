#pragma once
// What one rank sends each peer when a collective must learn shapes or lengths first: a shape as a fixed-size
// int64 record [ndim, size0, size1, ...] (Communicator's "all_gather_shapes"), a length as one int64
// (all_gather_sizes, counted as an "all_gather"). The scaling bench's byte formula counts them with these.
#include <cstdint>

namespace tessera {

inline constexpr int64_t kMaxShapeDims = 15;
inline constexpr int64_t kShapeRecordBytes = (kMaxShapeDims + 1) * 8;
inline constexpr int64_t kLengthBytes = 8;

}  // namespace tessera
