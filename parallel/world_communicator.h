#pragma once
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace tessera {

// The world communicator for a backend name: "mpi", "nccl", or "auto" (NCCL when this rank works on a
// CUDA device and NCCL was built, else MPI). Collective over MPI_COMM_WORLD.
// Throws tessera::Error naming the choices for a backend name other than auto, mpi or nccl.
void check_backend_name(const std::string& backend);

std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, bool cuda_device);

}  // namespace tessera
