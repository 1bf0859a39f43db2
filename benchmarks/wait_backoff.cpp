// What a communication wait costs (issue 26: waits that back off), at 2 ranks under tessera-run: rank 1 computes
// for D ms, then sends; rank 0 is already waiting in recv (wait_with_deadline) and measures its wait's wall time,
// its own CPU time while waiting (the core it takes from others) and the wake-up latency (wall - D, with both
// ranks starting from a barrier). Then a 38 MB exchange both ranks wait on at once, the transfer a Ulysses layer
// at 1536 tokens makes: its time shows whether napping slows a transfer in progress.
//
//   build/bin/tessera-run -np 2 build/bin/tessera_bench_wait_backoff [--repeat 20]
//   TESSERA_WAIT_SPIN_S=1 TESSERA_WAIT_NAP_S=0.001 build/bin/tessera-run -np 2 ...   (the policy before: spin 1 s)
// Results: benchmarks/results/wait_backoff.md.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "common/check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/wait_backoff.h"

namespace {

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Keeps this core busy for `seconds`, as a rank still computing does.
void compute_for(double seconds) {
  const double end = wall_seconds() + seconds;
  volatile double sink = 0;
  while (wall_seconds() < end) {
    for (int i = 0; i < 1000; ++i) sink = sink + 1e-9 * i;
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  tessera::MpiRuntime runtime(&argc, &argv);
  int repeat = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    TESSERA_CHECK(flag == "--repeat", "unknown flag ", flag, "; use --repeat N");
    repeat = std::stoi(argv[i + 1]);
  }
  TESSERA_CHECK(runtime.world_size() == 2, "run at 2 ranks: tessera-run -np 2 ", argv[0]);
  at::set_num_threads(1);
  tessera::MpiCommunicator world(MPI_COMM_WORLD, "world", {0, 1});
  const int rank = world.rank();
  const tessera::WaitBackoff backoff = tessera::wait_backoff();
  if (rank == 0) {
    std::printf("policy: spin %.0f us, longest nap %.0f us\n", backoff.spin.count() * 1e6,
                backoff.longest_nap.count() * 1e6);
    std::printf("%10s %14s %14s %16s\n", "peer_ms", "wait_ms", "latency_us", "waiter_cpu_share");
  }
  const at::Tensor token = at::zeros({1});
  for (const double peer_ms : {0.05, 0.5, 5.0, 50.0}) {
    std::vector<double> latency, cpu_share, waited;
    for (int run = 0; run < repeat; ++run) {
      world.barrier();
      if (rank == 1) {
        compute_for(peer_ms * 1e-3);
        world.send(token, 0);
      } else {
        at::Tensor received = at::empty({1});
        const double wall = wall_seconds(), cpu = thread_cpu_seconds();
        world.recv(received, 1);
        const double wait = wall_seconds() - wall;
        waited.push_back(wait * 1e3);
        latency.push_back((wait - peer_ms * 1e-3) * 1e6);
        cpu_share.push_back((thread_cpu_seconds() - cpu) / wait);
      }
    }
    if (rank == 0) {
      std::printf("%10.2f %14.3f %14.1f %16.2f\n", peer_ms, median(waited), median(latency), median(cpu_share));
    }
  }
  // 38 MB each way, both ranks waiting at once.
  const at::Tensor payload = at::ones({38 << 18});
  std::vector<double> seconds;
  for (int run = 0; run < std::max(3, repeat / 4); ++run) {
    world.barrier();
    const double start = wall_seconds();
    const at::Tensor back = world.exchange(payload, 1 - rank, 1 - rank);
    seconds.push_back(wall_seconds() - start);
  }
  if (rank == 0) std::printf("exchange of 38 MB each way: %.2f ms (median)\n", median(seconds) * 1e3);
  return 0;
}
