#include "measure/comm_bandwidth.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "common/check.h"
#include "kernels/device_synchronize.h"
#include "parallel/communicator.h"

namespace tessera {
namespace {

double bus_factor(const std::string& operation, int ranks) {
  if (operation == "all_reduce") return 2.0 * (ranks - 1) / ranks;
  if (operation == "ring_exchange") return 1.0;
  return static_cast<double>(ranks - 1) / ranks;
}

// Builds the step for one operation moving `bytes` (nccl-tests size semantics), in fp32.
std::function<void()> make_step(Communicator& communicator, const std::string& operation, int64_t bytes,
                                c10::Device device) {
  const int ranks = communicator.size();
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  const int64_t elements = std::max<int64_t>(1, bytes / 4);
  if (operation == "all_gather") {
    const int64_t per_rank = std::max<int64_t>(1, elements / ranks);
    auto input = at::ones({per_rank}, options);
    return [&communicator, input, ranks, per_rank] {
      communicator.all_gather(input, 0, std::vector<int64_t>(ranks, per_rank));
    };
  }
  if (operation == "all_to_all") {
    // What Ulysses runs (parallel/ulysses_attention.cpp): q, k, v [1, tokens, heads, 64] by the heads each rank
    // gets, one all_to_all_chunks into the group's whole sequence, head-major. One head per rank.
    constexpr int64_t kHeadDim = 64;
    const int64_t tokens = std::max<int64_t>(1, elements / (3 * ranks * kHeadDim));
    auto qkv = at::ones({1, tokens, ranks, kHeadDim}, options).transpose(1, 2);
    const std::vector<int64_t> head_sizes(ranks, 1), lengths(ranks, tokens);
    return [&communicator, qkv, head_sizes, lengths] {
      communicator.all_to_all_chunks({qkv, qkv, qkv}, 1, head_sizes, 2, lengths);
    };
  }
  if (operation == "ring_exchange") {
    auto input = at::ones({elements}, options);
    return [&communicator, input] { communicator.ring_exchange(input); };
  }
  if (operation == "all_reduce") {
    auto input = at::ones({elements}, options);
    return [&communicator, input] { communicator.all_reduce(input, ReduceOp::sum); };
  }
  TESSERA_CHECK(false, "unknown operation '", operation, "'; use all_to_all, all_gather, ring_exchange or all_reduce");
}

// Seconds per step on the slowest rank: every rank must agree on iteration counts and results. On CUDA the steps
// only enqueue work: the device is synchronised before the clock starts and before it stops.
double time_steps(Communicator& communicator, const std::function<void()>& step, int iterations, c10::Device device) {
  communicator.barrier();
  synchronize_device(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) step();
  synchronize_device(device);
  const double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
  return communicator.all_reduce(at::full({1}, local, at::kDouble), ReduceOp::max).item<double>();
}

}  // namespace

std::vector<CommBenchmarkPoint> run_comm_benchmark(Communicator& communicator, const CommBenchmarkOptions& options) {
  TESSERA_CHECK(options.min_bytes > 0 && options.min_bytes <= options.max_bytes, "invalid size range ",
                options.min_bytes, "..", options.max_bytes);
  TESSERA_CHECK(options.size_factor >= 2, "size factor must be at least 2, got ", options.size_factor);
  std::vector<CommBenchmarkPoint> points;
  for (const auto& operation : options.operations) {
    for (int64_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= options.size_factor) {
      const auto step = make_step(communicator, operation, bytes, options.device);
      step();  // warm-up: first-touch allocations and connection set-up
      const double probe = time_steps(communicator, step, 1, options.device);
      const int iterations = static_cast<int>(std::clamp(options.seconds_per_point / std::max(probe, 1e-9), 3.0, 1000.0));
      CommBenchmarkPoint point;
      point.operation = operation;
      point.bytes = bytes;
      point.iterations = iterations;
      point.seconds = time_steps(communicator, step, iterations, options.device);
      point.algorithm_gbps = static_cast<double>(bytes) / point.seconds / 1e9;
      point.bus_gbps = point.algorithm_gbps * bus_factor(operation, communicator.size());
      points.push_back(point);
    }
  }
  return points;
}

std::string comm_benchmark_json(const Communicator& communicator, const CommBenchmarkOptions& options,
                                const std::vector<CommBenchmarkPoint>& points) {
  nlohmann::json document;
  document["benchmark"] = "communication";
  document["backend"] = to_string(communicator.backend());
  document["ranks"] = communicator.size();
  document["device"] = options.device.str();
  document["dtype"] = "float32";
  document["definitions"] = "nccl-tests PERFORMANCE.md: algbw = size / time; busbw = algbw x (n-1)/n "
                            "(all_gather, all_to_all), x 2(n-1)/n (all_reduce), x 1 (ring_exchange); "
                            "time = mean per iteration on the slowest rank";
  for (const auto& point : points) {
    document["results"].push_back({{"operation", point.operation},
                                   {"bytes", point.bytes},
                                   {"iterations", point.iterations},
                                   {"time_us", point.seconds * 1e6},
                                   {"algbw_gbps", point.algorithm_gbps},
                                   {"busbw_gbps", point.bus_gbps}});
  }
  return document.dump(2) + "\n";
}

std::string comm_benchmark_table(const std::vector<CommBenchmarkPoint>& points) {
  std::string table = "operation          bytes   iters     time_us  algbw_GB/s  busbw_GB/s\n";
  char line[160];
  for (const auto& point : points) {
    std::snprintf(line, sizeof(line), "%-14s %9lld %7d %11.1f %11.3f %11.3f\n", point.operation.c_str(),
                  static_cast<long long>(point.bytes), point.iterations, point.seconds * 1e6, point.algorithm_gbps,
                  point.bus_gbps);
    table += line;
  }
  return table;
}

}  // namespace tessera
