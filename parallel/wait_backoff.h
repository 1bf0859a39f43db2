#pragma once
// How a communication wait polls (wait_with_deadline): continuously for `spin`, then in naps that double from
// 10 us up to `longest_nap`, the most a nap can add once the peer arrives. Read once from TESSERA_WAIT_SPIN_S and
// TESSERA_WAIT_NAP_S (seconds; defaults 0.0002 and 0.0002: benchmarks/results/wait_backoff.md).
#include <chrono>
#include <cstdint>
#include <functional>

namespace tessera {

struct WaitBackoff {
  std::chrono::duration<double> spin;
  std::chrono::duration<double> longest_nap;
};

WaitBackoff wait_backoff();

// Polls `is_done` continuously for as long as a transfer of `bytes` takes at a pessimistic rate
// (TESSERA_WAIT_TRANSFER_S_PER_GB, default 1 s per GB), or until it is done; true when done. What a wait for a large
// transfer runs before wait_with_deadline's naps: a non-blocking MPI transfer moves only while both sides poll (one
// shared-memory fragment at a time), so napping through one that is under way throttles it to a few fragments per
// nap (a 42 MB weight gather took 5x its time). A peer that is late still gets the core after this budget.
bool poll_through_transfer(const std::function<bool()>& is_done, int64_t bytes);

// Seconds this process's threads have spent in wait_with_deadline so far: on MPI, the time a rank waited for its
// peers and their transfers (imbalance and bandwidth together); on NCCL only the host's waits for an enqueue to
// settle. The scaling bench reports it per step as a phase of the step.
double communication_wait_seconds();

}  // namespace tessera
