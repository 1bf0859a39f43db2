// Every collective against an expectation each rank computes locally (rank_tensor makes any rank's input
// reproducible anywhere). Parametrised by device: CUDA tensors take the host-staged MPI path and are
// skipped where no GPU is visible.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "common/check.h"
#include "mpi_test_environment.h"
#include "parallel/shard_sizes.h"

namespace tessera::testing {
namespace {

const std::vector<c10::ScalarType> kDtypes = {at::kFloat, at::kBFloat16, at::kHalf, at::kLong};

class Collectives : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda" && !at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
  }
  // The concrete device a tensor lands on ("cuda" alone has index -1, a tensor's device says cuda:0).
  at::Device device() const { return at::empty({0}, at::TensorOptions().device(at::Device(GetParam()))).device(); }
  at::Tensor input(int rank, at::IntArrayRef shape, c10::ScalarType dtype, int salt = 0) const {
    return rank_tensor(rank, shape, dtype, salt).to(device());
  }
  static void expect_same(const at::Tensor& actual, const at::Tensor& expected) {
    ASSERT_EQ(actual.sizes(), expected.sizes());
    ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
    EXPECT_TRUE(at::equal(actual.cpu(), expected.cpu())) << "actual\n" << actual << "\nexpected\n" << expected;
  }
};

TEST_P(Collectives, AllGatherUnevenSizesAlongEveryDim) {
  auto& comm = world();
  for (auto dtype : kDtypes) {
    for (int64_t dim = 0; dim < 3; ++dim) {
      // Rank r holds r + dim sizes along `dim` (rank 0 holds none when dim == 0).
      auto shape_of = [&](int r) {
        std::vector<int64_t> shape{3, 5, 2};
        shape[dim] = r + dim;
        return shape;
      };
      std::vector<at::Tensor> pieces;
      for (int r = 0; r < comm.size(); ++r) pieces.push_back(rank_tensor(r, shape_of(r), dtype));
      const auto gathered = comm.all_gather(input(comm.rank(), shape_of(comm.rank()), dtype), dim);
      EXPECT_EQ(gathered.device(), device());
      expect_same(gathered, at::cat(pieces, dim));
    }
  }
}

TEST_P(Collectives, AllGatherNonContiguousNegativeDimAndKnownSizes) {
  auto& comm = world();
  // A transposed view: [4, r+2] with strides that are not contiguous.
  const auto local = input(comm.rank(), {comm.rank() + 2, 4}, at::kFloat).t();
  ASSERT_FALSE(local.is_contiguous());
  std::vector<at::Tensor> pieces;
  std::vector<int64_t> sizes;
  for (int r = 0; r < comm.size(); ++r) {
    pieces.push_back(rank_tensor(r, {r + 2, 4}, at::kFloat).t());
    sizes.push_back(r + 2);
  }
  expect_same(comm.all_gather(local, -1), at::cat(pieces, 1));
  expect_same(comm.all_gather(local, 1, sizes), at::cat(pieces, 1));
}

TEST_P(Collectives, AllGatherRejectsShapesThatDifferOutsideTheGatheredDim) {
  auto& comm = world();
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  const auto local = input(comm.rank(), {2, 3 + comm.rank()}, at::kFloat);
  EXPECT_THROW(comm.all_gather(local, 0), Error);
}

// The Ulysses pattern: sequence-sharded [B, S_r, H, D] to head-sharded [B, S, H_r, D] and back.
TEST_P(Collectives, AllToAllUnevenSequenceAndHeads) {
  auto& comm = world();
  const int n = comm.size();
  for (auto dtype : kDtypes) {
    const int64_t heads = 2 * n + 1;  // never divisible by n > 1
    const auto seq = shard_sizes(3 * n + 2, n);
    const auto head_shards = shard_sizes(heads, n);
    const auto head_offsets = exclusive_prefix_sum(head_shards);
    auto local_input = [&](int r) { return rank_tensor(r, {2, seq[r], heads, 3}, dtype); };

    const auto head_sharded = comm.all_to_all(input(comm.rank(), {2, seq[comm.rank()], heads, 3}, dtype), 2, 1);
    std::vector<at::Tensor> expected_pieces;
    for (int r = 0; r < n; ++r) {
      expected_pieces.push_back(local_input(r).narrow(2, head_offsets[comm.rank()], head_shards[comm.rank()]));
    }
    expect_same(head_sharded, at::cat(expected_pieces, 1));

    // And back: scatter the sequence, gather heads; shard_sizes reproduces the original sequence split.
    const auto back = comm.all_to_all(head_sharded, 1, 2);
    expect_same(back, local_input(comm.rank()).to(device()));
  }
}

TEST_P(Collectives, AllToAllNonContiguousInputAndExplicitGatherSizes) {
  auto& comm = world();
  const int n = comm.size();
  // [H=n+2, S_r=r+2] built as a transpose, scatter H (dim 0), gather S (dim 1).
  auto local_input = [&](int r) { return rank_tensor(r, {r + 2, n + 2}, at::kFloat).t(); };
  std::vector<int64_t> gather_sizes;
  for (int r = 0; r < n; ++r) gather_sizes.push_back(r + 2);
  const auto heads = shard_sizes(n + 2, n);
  const auto offsets = exclusive_prefix_sum(heads);
  std::vector<at::Tensor> expected;
  for (int r = 0; r < n; ++r) expected.push_back(local_input(r).narrow(0, offsets[comm.rank()], heads[comm.rank()]));
  const auto local = local_input(comm.rank()).to(device());
  ASSERT_FALSE(local.is_contiguous());
  expect_same(comm.all_to_all(local, 0, 1, gather_sizes), at::cat(expected, 1));
  EXPECT_THROW(comm.all_to_all(local, 1, 1), Error);
}

// Chunks sized by the caller, not by the shard_sizes rule: rank r receives r + 1 rows from every rank (the
// largest chunk goes to the last rank, the opposite of the rule's uneven cut).
TEST_P(Collectives, AllToAllExplicitScatterSizes) {
  auto& comm = world();
  const int n = comm.size();
  std::vector<int64_t> scatter_sizes;
  for (int r = 0; r < n; ++r) scatter_sizes.push_back(r + 1);
  const auto offsets = exclusive_prefix_sum(scatter_sizes);
  const int64_t total = offsets.back() + scatter_sizes.back();
  auto local_input = [&](int r) { return rank_tensor(r, {total, 2}, at::kFloat); };
  std::vector<at::Tensor> expected;
  for (int r = 0; r < n; ++r) {
    expected.push_back(local_input(r).narrow(0, offsets[comm.rank()], scatter_sizes[comm.rank()]));
  }
  const std::vector<int64_t> gather_sizes(n, 2);
  expect_same(comm.all_to_all(local_input(comm.rank()).to(device()), 0, 1, gather_sizes, scatter_sizes),
              at::cat(expected, 1));
  std::vector<int64_t> too_few = scatter_sizes;
  too_few.back() -= 1;
  EXPECT_THROW(comm.all_to_all(local_input(comm.rank()).to(device()), 0, 1, gather_sizes, too_few), Error);
}

// Ulysses' exchange of q, k and v at once: three head-major views ([B, H, S_r, D] over [B, S_r, H, D] memory),
// heads scattered unevenly, the sequence gathered with rank 0 holding no token, then the way back.
TEST_P(Collectives, AllToAllChunksOfSeveralStridedInputs) {
  auto& comm = world();
  const int n = comm.size();
  for (auto dtype : kDtypes) {
    const int64_t heads = 2 * n + 1;
    std::vector<int64_t> seq;
    for (int r = 0; r < n; ++r) seq.push_back(r == 0 && n > 1 ? 0 : r + 2);
    const auto head_shards = shard_sizes(heads, n);
    const auto head_offsets = exclusive_prefix_sum(head_shards);
    auto local_input = [&](int r, int which) { return rank_tensor(r, {2, seq[r], heads, 3}, dtype, which); };
    std::vector<at::Tensor> inputs;
    for (int which = 0; which < 3; ++which) {
      inputs.push_back(local_input(comm.rank(), which).to(device()).transpose(1, 2));
    }
    if (seq[comm.rank()] > 1) {
      ASSERT_FALSE(inputs[0].is_contiguous());
    }

    const at::Tensor head_sharded = comm.all_to_all_chunks(inputs, 1, head_shards, 2, seq);
    EXPECT_EQ(head_sharded.device(), device());
    ASSERT_TRUE(head_sharded.is_contiguous());
    std::vector<at::Tensor> expected;
    for (int which = 0; which < 3; ++which) {
      std::vector<at::Tensor> pieces;
      for (int r = 0; r < n; ++r) {
        pieces.push_back(local_input(r, which).transpose(1, 2).narrow(1, head_offsets[comm.rank()],
                                                                       head_shards[comm.rank()]));
      }
      expected.push_back(at::cat(pieces, 2));
    }
    expect_same(head_sharded, at::stack(expected));

    // Back: the sequence scattered from the gathered tokens' [B, S, H_r, D] view, the heads gathered.
    const at::Tensor back = comm.all_to_all_chunks({head_sharded[1].transpose(1, 2)}, 1, seq, 2, head_shards);
    expect_same(back[0], local_input(comm.rank(), 1).to(device()));
  }
}

TEST_P(Collectives, AllToAllChunksRejectsMismatchedInputs) {
  auto& comm = world();
  const int n = comm.size();
  const auto a = input(comm.rank(), {2, n, 3}, at::kFloat);
  const std::vector<int64_t> ones(n, 1), twos(n, 2);
  EXPECT_THROW(comm.all_to_all_chunks({a, a.narrow(2, 0, 2)}, 1, ones, 0, twos), Error);
  EXPECT_THROW(comm.all_to_all_chunks({a, a.to(at::kDouble)}, 1, ones, 0, twos), Error);
  EXPECT_THROW(comm.all_to_all_chunks({}, 1, ones, 0, twos), Error);
  if (n > 1) {  // sums to n, but with a negative chunk
    std::vector<int64_t> negative = ones;
    negative[0] = -1;
    negative[1] += 2;
    EXPECT_THROW(comm.all_to_all_chunks({a}, 1, negative, 0, twos), Error);
  }
}

TEST_P(Collectives, AllReduceSumAvgMax) {
  auto& comm = world();
  for (auto dtype : kDtypes) {
    at::Tensor sum = at::zeros({5, 3}, at::kFloat), max;
    for (int r = 0; r < comm.size(); ++r) {
      const auto t = rank_tensor(r, {5, 3}, dtype).to(at::kFloat);
      sum += t;
      max = r == 0 ? t : at::maximum(max, t);
    }
    // Transposed input: the result keeps the logical shape whatever the memory layout.
    const auto local = input(comm.rank(), {3, 5}, dtype).t();
    const auto local_rows = input(comm.rank(), {5, 3}, dtype);
    expect_same(comm.all_reduce(local_rows, ReduceOp::sum), sum.to(dtype));
    expect_same(comm.all_reduce(local_rows, ReduceOp::max), max.to(dtype));
    at::Tensor transposed_sum = at::zeros({3, 5}, at::kFloat);
    for (int r = 0; r < comm.size(); ++r) transposed_sum += rank_tensor(r, {3, 5}, dtype).to(at::kFloat);
    expect_same(comm.all_reduce(local, ReduceOp::sum), transposed_sum.t().to(dtype));
    if (at::isFloatingType(dtype)) {
      expect_same(comm.all_reduce(local_rows, ReduceOp::avg), (sum / comm.size()).to(dtype));
    } else {
      EXPECT_THROW(comm.all_reduce(local_rows, ReduceOp::avg), Error);
    }
    // The input is left untouched.
    expect_same(local_rows, input(comm.rank(), {5, 3}, dtype));
  }
}

TEST_P(Collectives, BroadcastFromEveryRoot) {
  auto& comm = world();
  for (int root = 0; root < comm.size(); ++root) {
    const auto local = input(comm.rank(), {4, 3}, at::kBFloat16, root);
    expect_same(comm.broadcast(local, root), rank_tensor(root, {4, 3}, at::kBFloat16, root).to(device()));
    expect_same(local, input(comm.rank(), {4, 3}, at::kBFloat16, root));
  }
  EXPECT_THROW(comm.broadcast(input(0, {1}, at::kFloat), comm.size()), Error);
}

TEST_P(Collectives, SendRecvInPairs) {
  auto& comm = world();
  const int partner = comm.rank() ^ 1;  // pairs (0,1), (2,3); an odd last rank sits out
  if (partner < comm.size()) {
    auto received = at::empty({3, 7}, at::TensorOptions().dtype(at::kHalf).device(device()));
    if (comm.rank() % 2 == 0) {
      comm.send(input(comm.rank(), {3, 7}, at::kHalf), partner);
      comm.recv(received, partner);
    } else {
      comm.recv(received, partner);
      comm.send(input(comm.rank(), {3, 7}, at::kHalf), partner);
    }
    expect_same(received, rank_tensor(partner, {3, 7}, at::kHalf).to(device()));
  }
  auto scratch = at::empty({1}, at::TensorOptions().device(device()));
  EXPECT_THROW(comm.send(scratch, comm.rank()), Error);
  EXPECT_THROW(comm.recv(scratch, comm.size()), Error);
  comm.barrier();
}

TEST_P(Collectives, RingExchangeAndAsyncOverlap) {
  auto& comm = world();
  const int previous = (comm.rank() + comm.size() - 1) % comm.size();
  const auto local = input(comm.rank(), {6, 5}, at::kFloat).t();  // non-contiguous
  expect_same(comm.ring_exchange(local), rank_tensor(previous, {6, 5}, at::kFloat).t().contiguous().to(device()));

  // Pass a tensor all the way around the ring, computing while each hop is in flight.
  at::Tensor travelling = input(comm.rank(), {8}, at::kLong);
  at::Tensor accumulated = travelling.clone();
  for (int hop = 1; hop < comm.size(); ++hop) {
    auto pending = comm.exchange_async(travelling, (comm.rank() + 1) % comm.size(), previous);
    const auto busy = at::ones({64, 64}).matmul(at::ones({64, 64}));  // stands in for attention compute
    ASSERT_EQ(busy.sum().item<float>(), 64.0f * 64 * 64);
    travelling = pending->wait();
    accumulated += travelling;
  }
  at::Tensor expected = at::zeros({8}, at::kLong);
  for (int r = 0; r < comm.size(); ++r) expected += rank_tensor(r, {8}, at::kLong);
  expect_same(accumulated, expected.to(device()));
  // Exchange with oneself is a copy.
  expect_same(comm.exchange(local, comm.rank(), comm.rank()), local.contiguous());
}

// Polling alone completes an exchange (MPI moves a large message only while polled): what Ring attention does
// between pieces of a hop's attention. A message far above Open MPI's eager limit, so it needs many polls.
TEST_P(Collectives, PollingProgressCompletesALargeExchange) {
  auto& comm = world();
  const int previous = (comm.rank() + comm.size() - 1) % comm.size();
  const auto local = input(comm.rank(), {1 << 20}, at::kFloat);  // 4 MiB
  auto pending = comm.exchange_async(local, (comm.rank() + 1) % comm.size(), previous);
  ASSERT_TRUE(pending->needs_progress());
  int polls = 0;
  while (!pending->progress()) {
    ASSERT_LT(++polls, 50'000'000) << "the exchange never completed by polling alone";
  }
  EXPECT_TRUE(pending->progress()) << "a completed exchange must stay complete when polled again";
  expect_same(pending->wait(), rank_tensor(previous, {1 << 20}, at::kFloat).to(device()));
}

TEST_P(Collectives, SplitIntoEvenAndOddRanks) {
  auto& comm = world();
  const auto group = comm.split(comm.rank() % 2, -comm.rank(), "parity");  // key reverses the order
  ASSERT_NE(group, nullptr);
  std::vector<int> members;
  for (int r = comm.size() - 1; r >= 0; --r) {
    if (r % 2 == comm.rank() % 2) members.push_back(comm.world_ranks()[r]);
  }
  EXPECT_EQ(group->world_ranks(), members);
  EXPECT_EQ(group->world_ranks()[group->rank()], comm.world_ranks()[comm.rank()]);
  const auto total = group->all_reduce(at::full({1}, comm.rank(), at::kLong).to(device()), ReduceOp::sum);
  int64_t expected = 0;
  for (int r = comm.rank() % 2; r < comm.size(); r += 2) expected += r;
  EXPECT_EQ(total.item<int64_t>(), expected);
  EXPECT_EQ(comm.split(comm.rank() == 0 ? -1 : 0, 0, "all-but-zero") == nullptr, comm.rank() == 0);
}

TEST_P(Collectives, StatsCountPayloadSentToOtherRanks) {
  auto& comm = world();
  comm.reset_stats();
  const auto local = input(comm.rank(), {4, 4}, at::kFloat);
  comm.all_gather(local, 0, std::vector<int64_t>(comm.size(), 4));
  comm.all_reduce(local, ReduceOp::sum);
  const auto& stats = comm.stats();
  EXPECT_EQ(stats.at("all_gather").calls, 1);
  EXPECT_EQ(stats.at("all_gather").bytes_sent, 64 * (comm.size() - 1));
  EXPECT_EQ(stats.at("all_reduce").bytes_sent, 64 * 2 * (comm.size() - 1) / comm.size());
}

INSTANTIATE_TEST_SUITE_P(Devices, Collectives, ::testing::Values("cpu", "cuda"));

}  // namespace
}  // namespace tessera::testing
