// A NCCL operation that can never complete, for the abort-path test: a receive that no rank sends to. The
// watchdog must abort the communicator and the job within the deadline, with tessera's own message.
//   nccl_abort_probe   (under tessera-run, TESSERA_COMM_TIMEOUT_S short)
// Needs two ranks or more, each with a GPU of its own: at one rank the receive would come from the rank itself,
// which Communicator::recv refuses before NCCL is reached. Exits 77 (skipped) otherwise, saying why.
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
  if (runtime.world_size() < 2 || !at::hasCUDA() || !tessera::nccl_built() ||
      at::detail::getCUDAHooks().deviceCount() < runtime.local_size()) {
    std::cout << "SKIPPED: needs NCCL and 2 or more ranks with one GPU each (" << runtime.world_size() << " ranks, "
              << (at::hasCUDA() ? at::detail::getCUDAHooks().deviceCount() : 0) << " GPU(s) on this node)"
              << std::endl;
    return 77;
  }
  auto world = tessera::MpiCommunicator::world();
  auto nccl = tessera::make_nccl_communicator(*world, runtime.local_rank());
  at::Tensor buffer = at::empty({1024}, at::TensorOptions().device(at::kCUDA, runtime.local_rank()));
  // Rank 0 waits for a message from the last rank, which never sends one. The others wait at the barrier below
  // under a longer deadline, so that rank 0's watchdog, not their own deadline, is what ends the job.
  const tessera::ScopedCommunicationTimeout patient(60);
  if (runtime.world_rank() == 0) nccl->recv(buffer, nccl->size() - 1);
  std::cout << "value " << buffer.sum().item<float>() << std::endl;  // the host waits on the stream here
  world->barrier();
  std::cout << "completed: the receive returned, which it never should" << std::endl;
  return 0;
}
