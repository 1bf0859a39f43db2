// tessera_bench_kernels: the fused kernels (kernels/) against their plain-ATen references on one CPU thread at
// Wan2.1-1.3B's shapes (width 1536, 12 heads of 128), bytes/s of the tensors each op must read and write.
// Results: benchmarks/results/kernels_cpu.json.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
