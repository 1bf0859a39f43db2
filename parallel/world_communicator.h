#pragma once
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace tessera {

// Where this rank computes, as far as the choice of backend cares.
struct RankPlacement {
  int cuda_device = -1;     // the rank's CUDA device, -1 on CPU
  int local_ranks = 1;      // ranks of the job on this node
  int visible_gpus = 0;     // CUDA devices this rank sees
};

// Throws tessera::Error naming the choices for a backend name other than auto, mpi or nccl.
void check_backend_name(const std::string& backend);

// The world communicator for a backend name: "mpi", "nccl", or "auto": NCCL when this rank works on a CUDA
// device, NCCL was built and every local rank has a GPU of its own (NCCL refuses two ranks on one GPU);
// otherwise MPI, staging CUDA tensors through the host, and the log says why. Collective over MPI_COMM_WORLD.
std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, const RankPlacement& placement);

}  // namespace tessera
