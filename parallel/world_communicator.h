#pragma once
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace tessera {

// The world communicator for a backend name: "mpi", "nccl", or "auto" (NCCL when this rank works on a
// CUDA device and NCCL was built, else MPI). Collective over MPI_COMM_WORLD.
std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, bool cuda_device);

}  // namespace tessera
