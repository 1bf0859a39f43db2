#pragma once
#include <cstdint>
#include <vector>

namespace tessera {

// Splits `total` items over `parts` as evenly as possible, the first `total % parts` parts one larger
// (the torch.tensor_split convention). Any total works, zero and totals smaller than `parts` included.
std::vector<int64_t> shard_sizes(int64_t total, int parts);
std::vector<int64_t> exclusive_prefix_sum(const std::vector<int64_t>& sizes);

}  // namespace tessera
