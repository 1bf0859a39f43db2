#pragma once
// How a communication wait polls (wait_with_deadline): continuously for `spin`, then in naps that double from
// 10 us up to `longest_nap`, the most a nap can add once the peer arrives. Read once from TESSERA_WAIT_SPIN_S and
// TESSERA_WAIT_NAP_S (seconds; defaults 0.0002 and 0.0002: benchmarks/results/wait_backoff.md).
#include <chrono>

namespace tessera {

struct WaitBackoff {
  std::chrono::duration<double> spin;
  std::chrono::duration<double> longest_nap;
};

WaitBackoff wait_backoff();

// Seconds this process's threads have spent in wait_with_deadline so far: on MPI, the time a rank waited for its
// peers and their transfers (imbalance and bandwidth together); on NCCL only the host's waits for an enqueue to
// settle. The scaling bench reports it per step as a phase of the step.
double communication_wait_seconds();

}  // namespace tessera
