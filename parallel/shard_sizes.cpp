#include "parallel/shard_sizes.h"

#include "common/check.h"

namespace tessera {

std::vector<int64_t> shard_sizes(int64_t total, int parts) {
  TESSERA_CHECK(parts > 0, "cannot split into ", parts, " parts");
  TESSERA_CHECK(total >= 0, "cannot split a negative size ", total);
  std::vector<int64_t> sizes(parts, total / parts);
  for (int64_t i = 0; i < total % parts; ++i) ++sizes[i];
  return sizes;
}

std::vector<int64_t> exclusive_prefix_sum(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> offsets(sizes.size(), 0);
  for (size_t i = 1; i < sizes.size(); ++i) offsets[i] = offsets[i - 1] + sizes[i - 1];
  return offsets;
}

}  // namespace tessera
