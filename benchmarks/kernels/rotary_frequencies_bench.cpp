// What the models' rotary frequency modules cost per forward: Wan's rope on a 480p 81-frame latent
// (21 x 30 x 52 patches, 32760 tokens), FLUX's pos_embed on a 1024x1024 image with 512 text tokens (4608 ids).
#include <ATen/ATen.h>

#include "benchmarks/kernels/kernel_bench.h"
#include "src/models/flux/flux_pos_embed.h"
#include "src/models/wan/wan_rotary.h"

namespace tessera::bench {
namespace {

void wan_rope_bench(benchmark::State& state) {
  const SingleThreadInference scope;
  WanRotaryPosEmbed rope(128, {1, 2, 2}, 1024);
  const at::Tensor latent = at::empty({1, 16, 21, 60, 104});
  for (auto _ : state) {
    Outputs frequencies = rope({{"hidden_states", latent}});
    benchmark::DoNotOptimize(frequencies);
  }
}
BENCHMARK(wan_rope_bench)->Unit(benchmark::kMicrosecond);

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
