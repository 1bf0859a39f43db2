#include <gtest/gtest.h>

#include <numeric>

#include "common/check.h"
#include "parallel/shard_sizes.h"

namespace tessera {
namespace {

TEST(ShardSizes, UnevenTotalsPutTheRemainderFirst) {
  EXPECT_EQ(shard_sizes(7, 3), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(shard_sizes(2, 4), (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(shard_sizes(0, 2), (std::vector<int64_t>{0, 0}));
  for (int64_t total = 0; total < 40; ++total) {
    for (int parts = 1; parts <= 5; ++parts) {
      const auto sizes = shard_sizes(total, parts);
      EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), int64_t{0}), total);
      const auto [smallest, largest] = std::minmax_element(sizes.begin(), sizes.end());
      EXPECT_LE(*largest - *smallest, 1);
    }
  }
}

TEST(ShardSizes, RejectsNonPositivePartCount) { EXPECT_THROW(shard_sizes(4, 0), Error); }

TEST(ShardSizes, PrefixSum) {
  EXPECT_EQ(exclusive_prefix_sum({3, 0, 2}), (std::vector<int64_t>{0, 3, 3}));
}

}  // namespace
}  // namespace tessera
