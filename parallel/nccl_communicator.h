#pragma once
// NCCL backend for CUDA tensors, bootstrapped by broadcasting the unique id over MPI. When tessera is
// built without CUDA/NCCL these functions say so with an error that names the fix.
#include <memory>
#include <string>

#include "parallel/mpi_communicator.h"

namespace tessera {

bool nccl_built();
std::string nccl_version();  // "2.28.9", or "not built"

// A NCCL communicator over the same ranks as `bootstrap`, on the current CUDA device. Collective: every
// rank of `bootstrap` must call it.
std::shared_ptr<Communicator> make_nccl_communicator(MpiCommunicator& bootstrap);

}  // namespace tessera
