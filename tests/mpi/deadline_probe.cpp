// A job in which the last rank misbehaves, for the deadline tests (tests/mpi/CMakeLists.txt, tests/expect_exit.sh):
//   deadline_probe skip   the last rank never joins the all_reduce (it sleeps instead)
//   deadline_probe kill   the last rank dies by SIGKILL before the all_reduce (the test runs each rank under a
//                         shell that outlives it, so that the survivors' deadline, not mpirun, ends the job)
//   deadline_probe thread the last rank aborts the job from two threads of its own at once (as a watchdog
//                         thread does) while the others wait in the all_reduce: one message, exit status 3
//   deadline_probe none   every rank takes part (the control: must succeed)
#include <ATen/ATen.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include "common/log.h"
#include "parallel/deadline.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"

int main(int argc, char** argv) {
  tessera::MpiRuntime runtime(&argc, &argv);
  tessera::log::configure(runtime.world_rank(), runtime.world_size());
  const std::string mode = argc > 1 ? argv[1] : "none";
  auto world = tessera::MpiCommunicator::world();
  const bool misbehaves = runtime.world_size() > 1 && runtime.world_rank() == runtime.world_size() - 1;
  if (misbehaves && mode == "kill") std::raise(SIGKILL);
  if (misbehaves && mode == "skip") {
    std::this_thread::sleep_for(std::chrono::seconds(120));
    return 0;
  }
  if (misbehaves && mode == "thread") {
    std::thread first([&] { tessera::abort_job("aborted from thread 1 of rank " + std::to_string(runtime.world_rank())); });
    std::thread second([&] { tessera::abort_job("aborted from thread 2 of rank " + std::to_string(runtime.world_rank())); });
    first.join();  // never returns: abort_job ends the process
    second.join();
  }
  const tessera::ScopedCommunicationTimeout patient(mode == "thread" ? 60 : 0);
  const auto total = world->all_reduce(at::ones({4}), tessera::ReduceOp::sum);
  if (runtime.world_rank() == 0) std::cout << "completed: sum " << total[0].item<float>() << std::endl;
  return 0;
}
