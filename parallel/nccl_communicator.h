#pragma once
// NCCL backend for CUDA tensors, bootstrapped by broadcasting the unique id over MPI. When tessera is
// built without CUDA/NCCL these functions say so with an error that names the fix.
#include <cstdint>
#include <memory>
#include <string>

#include "parallel/mpi_communicator.h"

namespace tessera {

bool nccl_built();
std::string nccl_version();  // "2.28.9", or "not built"

// The PCI bus id of CUDA device `device` ("0000:41:00.0"); throws in a build without CUDA.
std::string cuda_device_bus_id(int device);
// The free memory of CUDA device `device` (cudaMemGetInfo, on that device); throws in a build without CUDA.
int64_t cuda_free_bytes(int device);

// A NCCL communicator over the same ranks as `bootstrap`, on CUDA device `device` (passed, never taken from
// whatever is current). Non-blocking underneath: initialisation, splits and every operation are bounded by
// the communication deadline, watched from a thread of its own; operations run on a stream of their own,
// ordered with the caller's current stream by events. Collective: every rank of `bootstrap` must call it.
std::shared_ptr<Communicator> make_nccl_communicator(MpiCommunicator& bootstrap, int device);

}  // namespace tessera
