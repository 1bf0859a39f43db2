// The NCCL backend: every collective, the exchange, splits, and bf16 sums like MPI's. One rank on one GPU, and
// at 2+ ranks where there is a GPU per rank (NCCL refuses two ranks on one GPU; multi-rank CUDA runs on one
// GPU use the host-staged MPI backend, tests/gpu/test_cuda_paths.cpp). Skips where no GPU is visible.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <gtest/gtest.h>

#include "../mpi/mpi_test_environment.h"
#include "common/check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl_communicator.h"

namespace tessera::testing {
namespace {

class Nccl : public ::testing::Test {
 protected:
  // One communicator for the suite, destroyed when it ends: never in a static that outlives MPI_Finalize.
  static void SetUpTestSuite() {
    if (!at::hasCUDA() || !nccl_built() || at::detail::getCUDAHooks().deviceCount() < world().size()) return;
    communicator_ = make_nccl_communicator(dynamic_cast<MpiCommunicator&>(world()), world().rank());
  }
  static void TearDownTestSuite() { communicator_.reset(); }

  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
    if (!nccl_built()) GTEST_SKIP() << "built without NCCL";
    if (!communicator_) GTEST_SKIP() << "NCCL needs one GPU per rank: " << world().size() << " ranks";
    comm = communicator_.get();
    ASSERT_EQ(comm->backend(), Backend::nccl);
  }
  at::Tensor cuda(const at::Tensor& t) const { return t.to(at::Device(at::kCUDA, world().rank())); }
  static void expect_same(const at::Tensor& actual, const at::Tensor& expected) {
    ASSERT_TRUE(actual.is_cuda());
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_TRUE(at::equal(actual.cpu(), expected.cpu()));
  }
  Communicator* comm = nullptr;
  static inline std::shared_ptr<Communicator> communicator_;
};

// Rank r holds r + 1 rows (uneven shards); the gather is every rank's rows in rank order, as over MPI.
TEST_F(Nccl, UnevenAllGatherAndAllToAll) {
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    std::vector<at::Tensor> shards;
    for (int r = 0; r < comm->size(); ++r) shards.push_back(rank_tensor(r, {2, r + 1, 3}, dtype));
    expect_same(comm->all_gather(cuda(shards[comm->rank()]), 1), at::cat(shards, 1));
    // all_to_all with chunks of uneven rows (size + 1 rows over size ranks) and ranks of uneven width.
    const int64_t rows = comm->size() + 1;
    const at::Tensor mine = rank_tensor(comm->rank(), {rows, comm->rank() + 2}, dtype, 1);
    const at::Tensor result = comm->all_to_all(cuda(mine), 0, 1);
    const at::Tensor reference = world().all_to_all(mine, 0, 1);  // the MPI backend, already tested on CPU
    expect_same(result, reference);
  }
}

TEST_F(Nccl, Bf16AllReduceSumsInFp32LikeMpi) {
  // 1 + 2^-9 is not a bf16; summed in bf16 per hop it would round differently from MPI's fp32 sum.
  const at::Tensor local = at::full({64}, 1.0 + comm->rank() * 0.00390625, at::kFloat).to(at::kBFloat16);
  expect_same(comm->all_reduce(cuda(local), ReduceOp::sum), world().all_reduce(local, ReduceOp::sum));
}

TEST_F(Nccl, SplitIntoHalvesAndNoColor) {
  const int color = comm->rank() % 2;
  const auto half = comm->split(color, comm->rank(), "half");
  ASSERT_NE(half, nullptr);
  EXPECT_EQ(half->size(), (comm->size() + 1 - color) / 2);
  expect_same(half->all_reduce(cuda(at::ones({3})), ReduceOp::sum), at::full({3}, static_cast<float>(half->size())));
  const auto none = comm->split(comm->rank() == 0 ? -1 : 0, 0, "without_rank_0");
  EXPECT_EQ(none == nullptr, comm->rank() == 0);
  if (none) {
    expect_same(none->all_reduce(cuda(at::ones({2})), ReduceOp::sum),
                at::full({2}, static_cast<float>(comm->size() - 1)));
  }
}

TEST_F(Nccl, AllGatherAndAllToAllOnOneRankAreIdentities) {
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kLong}) {
    const auto local = rank_tensor(comm->rank(), {3, 5, 2}, dtype);
    expect_same(comm->all_gather(cuda(local), 1), local);
    expect_same(comm->all_to_all(cuda(local.transpose(0, 2)), 0, 2), local.transpose(0, 2));
  }
}

TEST_F(Nccl, AllReduceBroadcastBarrier) {
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kLong}) {
    const auto local = rank_tensor(comm->rank(), {7, 3}, dtype);
    expect_same(comm->all_reduce(cuda(local), ReduceOp::sum), local * comm->size());
    expect_same(comm->all_reduce(cuda(local), ReduceOp::max), local);
    expect_same(comm->broadcast(cuda(local), 0), local);
  }
  expect_same(comm->all_reduce(cuda(at::full({2}, 3.0f)), ReduceOp::avg), at::full({2}, 3.0f));
  comm->barrier();
}

TEST_F(Nccl, ExchangeWithSelfAndSplit) {
  const auto local = rank_tensor(comm->rank(), {9, 4}, at::kBFloat16);
  expect_same(comm->exchange(cuda(local), comm->rank(), comm->rank()), local);
  expect_same(comm->ring_exchange(cuda(local.t())), local.t().contiguous());
  auto pending = comm->exchange_async(cuda(local), comm->rank(), comm->rank());
  expect_same(pending->wait(), local);
  const auto alone = comm->split(0, 0, "alone");
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ(alone->size(), 1);
  expect_same(alone->all_reduce(cuda(at::ones({3})), ReduceOp::sum), at::ones({3}));
}

TEST_F(Nccl, CpuInputsAreStagedToTheGpuAndReturnedOnTheCpu) {
  const auto local = rank_tensor(comm->rank(), {4}, at::kFloat);
  const auto result = comm->all_reduce(local, ReduceOp::sum);
  EXPECT_TRUE(result.device().is_cpu());
  EXPECT_TRUE(at::equal(result, local * comm->size()));
}

// The asynchronous all-gather (a sharded model's next block's weights) runs on the communication stream while the
// compute stream works on; after wait() the compute stream sees the gathered bits, also into a reused destination.
TEST_F(Nccl, AsyncAllGatherOverlapsComputeAndLandsInTheDestination) {
  std::vector<int64_t> counts;
  std::vector<at::Tensor> shards;
  for (int r = 0; r < comm->size(); ++r) {
    counts.push_back(1000 + 7 * r);
    shards.push_back(rank_tensor(r, {counts.back()}, at::kBFloat16));
  }
  const at::Tensor expected = at::cat(shards);
  at::Tensor destination = cuda(at::zeros_like(expected));
  for (int round = 0; round < 2; ++round) {
    auto pending = comm->all_gather_flat_async(cuda(shards[comm->rank()]), counts, destination);
    const at::Tensor busy = cuda(at::ones({512, 512}));
    const at::Tensor product = at::mm(busy, busy);  // queued on the compute stream meanwhile
    const at::Tensor gathered = pending->wait();
    EXPECT_EQ(gathered.data_ptr(), destination.data_ptr());
    expect_same(gathered, expected);
    EXPECT_EQ(product[0][0].item<float>(), 512.0f);
    destination = gathered;
  }
}

}  // namespace
}  // namespace tessera::testing
