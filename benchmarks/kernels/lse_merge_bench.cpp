// Ring attention's log-sum-exp merge at Wan2.1-1.3B's shapes (12 heads of 128; 1536 and 4096 tokens per shard):
// the in-place kernel against the plain-ATen reference, one thread, the partial output in fp32 or bf16. Bytes:
// the fp32 output read and written, the partial output read, the two log-sum-exps read and one written.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "kernels/lse_merge.h"

namespace {

constexpr int64_t kHeads = 12, kHeadDim = 128;

template <bool kReference>
void BM_LseMerge(benchmark::State& state) {
  at::set_num_threads(1);
  const int64_t tokens = state.range(0);
  const auto dtype = state.range(1) == 32 ? at::kFloat : at::kBFloat16;
  at::manual_seed(0);
  const at::Tensor output = at::randn({1, tokens, kHeads, kHeadDim}), lse = at::randn({1, kHeads, tokens});
  const at::Tensor partial = at::randn({1, tokens, kHeads, kHeadDim}).to(dtype), partial_lse = at::randn({1, kHeads, tokens});
  for (auto _ : state) {
    if constexpr (kReference) {
      tessera::lse_merge_reference(output, lse, partial, partial_lse);
    } else {
      tessera::lse_merge(output, lse, partial, partial_lse);
    }
    benchmark::DoNotOptimize(output.data_ptr());
    // Keep the log-sum-exps in range: each merge adds about log 2.
    lse.sub_(0.69314718f);
  }
  const int64_t elements = output.numel(), rows = lse.numel();
  state.SetBytesProcessed(state.iterations() * (elements * (2 * 4 + partial.element_size()) + rows * 3 * 4));
  state.SetLabel(dtype == at::kFloat ? "partial fp32" : "partial bf16");
}

void shapes(benchmark::internal::Benchmark* benchmark) {
  for (const int64_t tokens : {1536, 4096}) {
    for (const int64_t bits : {32, 16}) benchmark->Args({tokens, bits});
  }
  benchmark->ArgNames({"tokens", "bits"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_LseMerge<false>)->Name("lse_merge/fused")->Apply(shapes);
BENCHMARK(BM_LseMerge<true>)->Name("lse_merge/reference")->Apply(shapes);

}  // namespace
