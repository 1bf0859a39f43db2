#pragma once
// What the kernel benchmarks share: Wan2.1-1.3B's width, one CPU thread, inference mode.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>

#include <cstdint>

namespace tessera::bench {

constexpr int64_t kWanWidth = 1536;  // Wan2.1-1.3B: 12 heads of 128

// The token counts benchmarked: a small latent and a 4096-token one.
inline void wan_tokens(benchmark::internal::Benchmark* benchmark) {
  benchmark->Arg(1536)->Arg(4096)->Unit(benchmark::kMicrosecond);
}

// Kernels compared on one thread: the figure is the kernel's, not the machine's core count.
struct SingleThreadInference {
  SingleThreadInference() { at::set_num_threads(1); }
  c10::InferenceMode inference;
};

}  // namespace tessera::bench
