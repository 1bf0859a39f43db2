// Rotary embedding on interleaved pairs: the fused kernel against the plain-ATen reference on q [1, S, 12, 128]
// with fp32 frequencies [1, S, 1, 128], as Wan's attention applies it.
#include <ATen/ATen.h>

#include "benchmarks/kernels/kernel_bench.h"
#include "kernels/rotary.h"

namespace tessera::bench {
namespace {

constexpr int64_t kHeads = 12, kHeadDim = 128;

void rotary_bench(benchmark::State& state, bool fused, c10::ScalarType dtype) {
  const SingleThreadInference scope;
  const int64_t tokens = state.range(0);
  const at::Tensor x = at::randn({1, tokens, kHeads, kHeadDim}).to(dtype);
  const at::Tensor cos = at::randn({1, tokens, 1, kHeadDim}), sin = at::randn({1, tokens, 1, kHeadDim});
  for (auto _ : state) {
    at::Tensor out = fused ? apply_rotary_embedding(x, cos, sin) : apply_rotary_embedding_reference(x, cos, sin);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * (2 * x.nbytes() + cos.nbytes() + sin.nbytes()));
}

BENCHMARK_CAPTURE(rotary_bench, fp32_fused, true, at::kFloat)->Apply(wan_tokens);
BENCHMARK_CAPTURE(rotary_bench, fp32_reference, false, at::kFloat)->Apply(wan_tokens);
BENCHMARK_CAPTURE(rotary_bench, bf16_fused, true, at::kBFloat16)->Apply(wan_tokens);
BENCHMARK_CAPTURE(rotary_bench, bf16_reference, false, at::kBFloat16)->Apply(wan_tokens);

}  // namespace
}  // namespace tessera::bench
