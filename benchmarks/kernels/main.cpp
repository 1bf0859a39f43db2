// tessera_bench_kernels: every kernel against its plain-ATen reference (issue 15), one binary.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
