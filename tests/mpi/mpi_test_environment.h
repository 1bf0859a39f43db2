#pragma once
// Shared by the MPI gtest binaries: one MPI runtime and one world communicator per process.
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "parallel/communicator.h"
#include "parallel/parallel_config.h"

namespace tessera::testing {

// The world communicator of the current test backend (MPI; CUDA tensors staged through the host).
Communicator& world();

// The test world as the shared pointer DeviceMesh takes, without owning it.
std::shared_ptr<Communicator> shared_world();

// The context-parallel strategies a world of n ranks can run: Ulysses n, Ring n, and USP 2 x (n / 2).
std::vector<ParallelConfig> strategies(int n);

// A tensor that depends only on (rank, shape, dtype), so any rank can compute what another rank holds.
// Values are small integers, exact in bf16 and fp16.
at::Tensor rank_tensor(int rank, at::IntArrayRef shape, c10::ScalarType dtype, int salt = 0);

// Every rank's string of cache decisions, as seen by this rank (all-gathered; the strings must have one length).
std::vector<std::string> gather_decisions(const std::string& decisions);

}  // namespace tessera::testing
