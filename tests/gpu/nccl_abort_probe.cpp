// A NCCL operation that can never complete, for the abort-path test: a receive that no rank sends to. The
// watchdog must abort the communicator and the job within the deadline, with tessera's own message.
//   nccl_abort_probe   (under tessera-run, TESSERA_COMM_TIMEOUT_S short)
// Exits 77 (skipped) where no GPU per rank or no NCCL is available.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <iostream>

#include "common/log.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/nccl_communicator.h"

int main(int argc, char** argv) {
  tessera::MpiRuntime runtime(&argc, &argv);
  tessera::log::configure(runtime.world_rank(), runtime.world_size());
  if (!at::hasCUDA() || !tessera::nccl_built() ||
      at::detail::getCUDAHooks().deviceCount() < runtime.local_size()) {
    std::cout << "SKIPPED: needs NCCL and one GPU per rank" << std::endl;
    return 77;
  }
  auto world = tessera::MpiCommunicator::world();
  auto nccl = tessera::make_nccl_communicator(*world, runtime.local_rank());
  at::Tensor buffer = at::empty({1024}, at::TensorOptions().device(at::kCUDA, runtime.local_rank()));
  // Rank 0 waits for a message from the last rank, which never sends one.
  if (runtime.world_rank() == 0) nccl->recv(buffer, nccl->size() - 1);
  std::cout << "value " << buffer.sum().item<float>() << std::endl;  // the host waits on the stream here
  world->barrier();
  std::cout << "completed: the receive returned, which it never should" << std::endl;
  return 0;
}
