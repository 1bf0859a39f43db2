// A group of one rank (parallel/single_rank_communicator.h), which NCCL splits of one member get: every operation
// returns what the rank gave, as any backend's group of one does, with no transport.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/check.h"
#include "parallel/single_rank_communicator.h"

namespace tessera {
namespace {

SingleRankCommunicator alone() { return SingleRankCommunicator("ulysses", 5, Backend::nccl, c10::Device(c10::kCPU)); }

at::Tensor awkward(c10::ScalarType dtype = at::kFloat) {
  return at::arange(3 * 5 * 7, at::kFloat).reshape({3, 5, 7}).transpose(0, 2).to(dtype);  // non-contiguous
}

TEST(SingleRankCommunicator, IsAGroupOfOne) {
  auto group = alone();
  EXPECT_EQ(group.size(), 1);
  EXPECT_EQ(group.rank(), 0);
  EXPECT_EQ(group.world_ranks(), std::vector<int>{5});
  EXPECT_EQ(group.backend(), Backend::nccl);
}

TEST(SingleRankCommunicator, CollectivesReturnTheRanksOwnTensor) {
  auto group = alone();
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kLong}) {
    const at::Tensor input = awkward(dtype);
    for (int64_t dim = 0; dim < input.dim(); ++dim) {
      EXPECT_TRUE(at::equal(group.all_gather(input, dim), input)) << "all_gather along " << dim;
      EXPECT_TRUE(at::equal(group.all_to_all(input, dim, (dim + 1) % input.dim()), input)) << "all_to_all " << dim;
    }
    EXPECT_TRUE(at::equal(group.broadcast(input, 0), input));
    EXPECT_TRUE(at::equal(group.all_reduce(input, ReduceOp::sum), input));
    EXPECT_TRUE(at::equal(group.all_reduce(input, ReduceOp::max), input));
    EXPECT_TRUE(at::equal(group.ring_exchange(input), input));
    EXPECT_TRUE(at::equal(group.exchange_async(input, 0, 0)->wait(), input));
  }
  EXPECT_TRUE(at::equal(group.all_reduce(awkward(), ReduceOp::avg), awkward()));
  EXPECT_EQ(group.all_gather_sizes(42), std::vector<int64_t>{42});
  const at::Tensor first = awkward(), second = awkward() + 1;
  EXPECT_TRUE(at::equal(group.all_to_all_chunks({first, second}, 0, {first.size(0)}, 1, {first.size(1)}),
                        at::stack({first, second})));
  group.barrier();
}

TEST(SingleRankCommunicator, RefusesItselfAsAPeerAndSplitsIntoGroupsOfOne) {
  auto group = alone();
  at::Tensor buffer = at::zeros({4});
  EXPECT_THROW(group.send(buffer, 0), Error);
  EXPECT_THROW(group.recv(buffer, 0), Error);
  const auto child = group.split(3, 0, "ring");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->name(), "ring");
  EXPECT_EQ(child->world_ranks(), std::vector<int>{5});
  EXPECT_EQ(child->backend(), Backend::nccl);
  EXPECT_EQ(group.split(-1, 0, "none"), nullptr);
}

}  // namespace
}  // namespace tessera
