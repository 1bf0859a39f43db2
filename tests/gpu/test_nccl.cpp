// The NCCL backend with one rank on one GPU: every collective, and the exchange with oneself. Runs on the
// GPU machine (scripts/gpu_check.sh); skips where no GPU is visible. NCCL 2.28 refuses two ranks on one
// GPU, so multi-rank NCCL needs a multi-GPU node; multi-rank CUDA runs use the host-staged MPI backend.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "../mpi/mpi_test_environment.h"
#include "common/check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl_communicator.h"

namespace tessera::testing {
namespace {

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
    if (!nccl_built()) GTEST_SKIP() << "built without NCCL";
    static std::shared_ptr<Communicator> shared = make_nccl_communicator(dynamic_cast<MpiCommunicator&>(world()));
    comm = shared.get();
    ASSERT_EQ(comm->backend(), Backend::nccl);
  }
  static at::Tensor cuda(const at::Tensor& t) { return t.to(at::kCUDA); }
  static void expect_same(const at::Tensor& actual, const at::Tensor& expected) {
    ASSERT_TRUE(actual.is_cuda());
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_TRUE(at::equal(actual.cpu(), expected.cpu()));
  }
  Communicator* comm = nullptr;
};

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

}  // namespace
}  // namespace tessera::testing
