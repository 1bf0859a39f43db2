#pragma once
// Communication bandwidth of the collectives context parallelism uses, as it runs them (all_to_all: Ulysses'
// q, k, v through all_to_all_chunks; the ring exchange for Ring attention, all_gather for plan outputs, all_reduce for cache decisions). Sizes and
// bandwidths follow the nccl-tests definitions (PERFORMANCE.md there): algbw = bytes / time, and
// busbw = algbw × (n-1)/n for all_gather and all_to_all, × 2(n-1)/n for all_reduce, × 1 for the ring
// exchange, so busbw is comparable to the link's peak whatever the rank count.
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Communicator;

struct CommBenchmarkOptions {
  int64_t min_bytes = 1 << 10;
  int64_t max_bytes = 64 << 20;
  int size_factor = 4;                   // next size = size × factor
  double seconds_per_point = 0.2;        // iteration count is chosen to take about this long
  std::vector<std::string> operations{"all_to_all", "all_gather", "ring_exchange", "all_reduce"};
  c10::Device device = c10::Device(c10::DeviceType::CPU);
};

struct CommBenchmarkPoint {
  std::string operation;
  int64_t bytes = 0;  // nccl-tests "size": all_gather's output, all_to_all's per-rank buffer, the message
  int iterations = 0;
  double seconds = 0;  // per iteration, the slowest rank
  double algorithm_gbps = 0;
  double bus_gbps = 0;
};

// Collective: every rank of `communicator` must call it with the same options.
std::vector<CommBenchmarkPoint> run_comm_benchmark(Communicator& communicator, const CommBenchmarkOptions& options);

std::string comm_benchmark_json(const Communicator& communicator, const CommBenchmarkOptions& options,
                                const std::vector<CommBenchmarkPoint>& points);
std::string comm_benchmark_table(const std::vector<CommBenchmarkPoint>& points);

}  // namespace tessera
