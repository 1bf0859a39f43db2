// The backend choice of --backend: auto falls back to host-staged MPI where NCCL cannot run (CPU, or local
// ranks sharing GPUs), and nccl refuses those placements with the fix. No GPU needed: the checks come first.
#include <gtest/gtest.h>

#include "../unit/error_message.h"
#include "common/check.h"
#include "mpi_test_environment.h"
#include "parallel/world_communicator.h"

namespace tessera::testing {
namespace {

TEST(WorldCommunicator, AutoOnCpuIsMpi) {
  const auto world_communicator = make_world_communicator("auto", {.cuda_device = -1, .local_ranks = world().size(),
                                                                   .visible_gpus = 0});
  EXPECT_EQ(world_communicator->backend(), Backend::mpi);
  EXPECT_EQ(world_communicator->size(), world().size());
}

// Four ranks on a node with one GPU: NCCL would refuse to start, so auto stages through the host.
TEST(WorldCommunicator, AutoWithRanksSharingAGpuIsMpi) {
  const auto world_communicator = make_world_communicator("auto", {.cuda_device = 0, .local_ranks = 4,
                                                                   .visible_gpus = 1});
  EXPECT_EQ(world_communicator->backend(), Backend::mpi);
}

TEST(WorldCommunicator, NcclRefusesSharedGpusAndCpu) {
  EXPECT_PRED2(has, message_of([] {
    make_world_communicator("nccl", {.cuda_device = 0, .local_ranks = 4, .visible_gpus = 1});
  }), "--backend nccl needs one GPU per rank, but 4 ranks on this node share 1 GPU(s); use --backend mpi");
  EXPECT_PRED2(has, message_of([] {
    make_world_communicator("nccl", {.cuda_device = -1, .local_ranks = 1, .visible_gpus = 0});
  }), "use --backend mpi on CPU");
  EXPECT_PRED2(has, message_of([] { make_world_communicator("gloo", {}); }),
               "unknown backend 'gloo'; use --backend auto, mpi or nccl");
}

}  // namespace
}  // namespace tessera::testing
