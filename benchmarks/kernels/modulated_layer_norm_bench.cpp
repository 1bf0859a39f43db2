// layer_norm(x) * (1 + scale) + shift: the fused kernel against the op sequence, as Wan runs it (x in the
// model's dtype, fp32 tables, one rounding) and as FLUX does in bf16 (rounded per op).
#include <ATen/ATen.h>

#include "benchmarks/kernels/kernel_bench.h"
#include "kernels/modulated_layer_norm.h"

namespace tessera::bench {
namespace {

void modulated_layer_norm_bench(benchmark::State& state, bool fused, c10::ScalarType dtype, Rounding rounding) {
  const SingleThreadInference scope;
  const int64_t tokens = state.range(0);
  const auto parameter_dtype = rounding == Rounding::once ? at::kFloat : dtype;
  const at::Tensor x = at::randn({1, tokens, kWanWidth}).to(dtype);
  const at::Tensor scale = at::randn({1, 1, kWanWidth}).to(parameter_dtype),
                   shift = at::randn({1, 1, kWanWidth}).to(parameter_dtype);
  for (auto _ : state) {
    at::Tensor out = fused ? modulated_layer_norm(x, scale, shift, 1e-6, rounding)
                           : modulated_layer_norm_reference(x, scale, shift, 1e-6, rounding);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * 2 * x.nbytes());  // x read, the output written
}

BENCHMARK_CAPTURE(modulated_layer_norm_bench, wan_fp32_fused, true, at::kFloat, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(modulated_layer_norm_bench, wan_fp32_reference, false, at::kFloat, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(modulated_layer_norm_bench, wan_bf16_fused, true, at::kBFloat16, Rounding::once)->Apply(wan_tokens);
BENCHMARK_CAPTURE(modulated_layer_norm_bench, wan_bf16_reference, false, at::kBFloat16, Rounding::once)
    ->Apply(wan_tokens);
BENCHMARK_CAPTURE(modulated_layer_norm_bench, flux_bf16_fused, true, at::kBFloat16, Rounding::per_op)
    ->Apply(wan_tokens);
BENCHMARK_CAPTURE(modulated_layer_norm_bench, flux_bf16_reference, false, at::kBFloat16, Rounding::per_op)
    ->Apply(wan_tokens);

}  // namespace
}  // namespace tessera::bench
