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

}  // namespace tessera
