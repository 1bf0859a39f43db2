// The backend choice of --backend: auto falls back to host-staged MPI where NCCL cannot run (CPU, or ranks
// sharing a GPU), and nccl refuses those placements with the fix. No GPU needed: the checks come first.
#include <gtest/gtest.h>

#include "../unit/error_message.h"
#include "common/check.h"
#include "mpi_test_environment.h"
#include "parallel/world_communicator.h"

namespace tessera::testing {
namespace {

// A rank's placement on a node with one GPU that every rank of this test shares.
RankPlacement on_the_shared_gpu() { return {.cuda_device = 0, .gpu = "node0/0000:41:00.0"}; }

TEST(WorldCommunicator, AutoOnCpuIsMpi) {
  const auto world_communicator = make_world_communicator("auto", {.cuda_device = -1, .gpu = ""});
  EXPECT_EQ(world_communicator->backend(), Backend::mpi);
  EXPECT_EQ(world_communicator->size(), world().size());
}

// Ranks on one GPU: NCCL would refuse to start, so auto stages through the host. (One rank alone has its GPU to
// itself and would pick NCCL, which needs a real GPU: that case runs in tests/gpu.)
TEST(WorldCommunicator, AutoWithRanksSharingAGpuIsMpi) {
  if (world().size() < 2) GTEST_SKIP() << "needs two ranks to share a GPU";
  const auto world_communicator = make_world_communicator("auto", on_the_shared_gpu());
  EXPECT_EQ(world_communicator->backend(), Backend::mpi);
}

TEST(WorldCommunicator, NcclRefusesSharedGpusAndCpu) {
  if (world().size() >= 2) {
    EXPECT_PRED2(has, message_of([] { make_world_communicator("nccl", on_the_shared_gpu()); }),
                 "--backend nccl needs one GPU per rank, but ranks 0 and 1 share the GPU node0/0000:41:00.0");
  }
  EXPECT_PRED2(has, message_of([] { make_world_communicator("nccl", {.cuda_device = -1, .gpu = ""}); }),
               "use --backend mpi on CPU");
  EXPECT_PRED2(has, message_of([] { make_world_communicator("gloo", {}); }),
               "unknown backend 'gloo'; use --backend auto, mpi or nccl");
}

// Slurm's CUDA_VISIBLE_DEVICES per rank: every rank sees one GPU as its device 0, yet each is another GPU, so NCCL
// can run; the same bus id on two hosts is two GPUs too.
TEST(NcclPlacement, OneGpuPerRankWhateverEachRankSees) {
  EXPECT_EQ(nccl_placement_problem({"node0/0000:07:00.0", "node0/0000:0F:00.0", "node0/0000:47:00.0"}), "");
  EXPECT_EQ(nccl_placement_problem({"node0/0000:07:00.0", "node1/0000:07:00.0"}), "");
  EXPECT_EQ(nccl_placement_problem({"node0/0000:07:00.0", "node1/0000:07:00.0", "node0/0000:07:00.0"}),
            "ranks 0 and 2 share the GPU node0/0000:07:00.0 and NCCL needs one per rank");
  EXPECT_EQ(nccl_placement_problem({"node0/0000:07:00.0", ""}), "rank 1 has no CUDA device");
}

}  // namespace
}  // namespace tessera::testing
