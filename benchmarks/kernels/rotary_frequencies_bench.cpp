// What the models' rotary frequency modules cost per forward: Wan's rope on a 480p 81-frame latent
// (21 x 30 x 52 patches, 32760 tokens), kept per grid since issue 15; FLUX's pos_embed on a 1024x1024 image with
// 512 text tokens (4608 ids), recomputed from its ids each forward.
#include <ATen/ATen.h>

#include <array>
#include <memory>

#include "benchmarks/kernels/kernel_bench.h"
#include "src/models/flux/flux_pos_embed.h"
#include "src/models/wan/wan_rotary.h"

namespace tessera::bench {
namespace {

// `cached`: every forward after the first of a grid (what a generation's steps pay); `first_call`: a fresh
// module's first forward, what every forward paid before the cache.
void wan_rope_bench(benchmark::State& state, bool cached) {
  const SingleThreadInference scope;
  const at::Tensor latent = at::empty({1, 16, 21, 60, 104});
  auto rope = std::make_unique<WanRotaryPosEmbed>(128, std::array<int64_t, 3>{1, 2, 2}, 1024);
  if (cached) rope->operator()({{"hidden_states", latent}});
  for (auto _ : state) {
    if (!cached) {
      state.PauseTiming();
      rope = std::make_unique<WanRotaryPosEmbed>(128, std::array<int64_t, 3>{1, 2, 2}, 1024);
      state.ResumeTiming();
    }
    Outputs frequencies = (*rope)({{"hidden_states", latent}});
    benchmark::DoNotOptimize(frequencies);
  }
}
BENCHMARK_CAPTURE(wan_rope_bench, cached, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(wan_rope_bench, first_call, false)->Unit(benchmark::kMicrosecond);

void flux_pos_embed_bench(benchmark::State& state) {
  const SingleThreadInference scope;
  FluxPosEmbed pos_embed({16, 56, 56});
  const at::Tensor rows = at::arange(64, at::kFloat).repeat_interleave(64), columns = at::arange(64, at::kFloat).repeat(64);
  const at::Tensor image_ids = at::stack({at::zeros({4096}), rows, columns}, 1);
  const at::Tensor ids = at::cat({at::zeros({512, 3}), image_ids}, 0);
  for (auto _ : state) {
    Outputs frequencies = pos_embed({{"ids", ids}});
    benchmark::DoNotOptimize(frequencies);
  }
}
BENCHMARK(flux_pos_embed_bench)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tessera::bench
