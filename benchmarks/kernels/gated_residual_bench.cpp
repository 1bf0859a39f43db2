// residual + gate * y: the fused kernel against the op sequence, as Wan runs it (fp32 gate, one rounding) and as
// FLUX does in bf16 (rounded per op).
#include <ATen/ATen.h>

#include "benchmarks/kernels/kernel_bench.h"
#include "kernels/gated_residual.h"

namespace tessera::bench {
namespace {

void gated_residual_bench(benchmark::State& state, bool fused, c10::ScalarType dtype, Rounding rounding) {
  const SingleThreadInference scope;
  const int64_t tokens = state.range(0);
  const at::Tensor residual = at::randn({1, tokens, kWanWidth}).to(dtype), y = at::randn({1, tokens, kWanWidth}).to(dtype);
  const at::Tensor gate = at::randn({1, 1, kWanWidth}).to(rounding == Rounding::once ? at::kFloat : dtype);
  for (auto _ : state) {
    at::Tensor out = fused ? gated_residual(residual, gate, y, rounding) : gated_residual_reference(residual, gate, y, rounding);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * 3 * residual.nbytes());  // residual and y read, the output written
}

BENCHMARK_CAPTURE(gated_residual_bench, wan_fp32_fused, true, at::kFloat, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(gated_residual_bench, wan_fp32_reference, false, at::kFloat, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(gated_residual_bench, wan_bf16_fused, true, at::kBFloat16, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(gated_residual_bench, wan_bf16_reference, false, at::kBFloat16, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(gated_residual_bench, flux_bf16_fused, true, at::kBFloat16, Rounding::per_op)->Apply(wan_tokens);
BENCHMARK_CAPTURE(gated_residual_bench, flux_bf16_reference, false, at::kBFloat16, Rounding::per_op)->Apply(wan_tokens);

}  // namespace
}  // namespace tessera::bench
