// Ulysses' all-to-all packing at Wan2.1-1.3B's shapes (12 heads of 128; 1536 and 4096 tokens per shard, Ulysses 2):
// q, k, v packed by heads into the send buffer, and the received buffer unpacked into the group's sequence of six
// heads; the block-copy kernels against the plain-ATen references (and, for pack, today's path before them:
// at::stack then the communicator's movedim + contiguous), one thread, fp32 or bf16. Bytes: read plus written.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/all_to_all_pack.h"

namespace {

constexpr int64_t kHeads = 12, kHeadDim = 128, kRanks = 2;

at::ScalarType dtype_of(const benchmark::State& state) { return state.range(1) == 32 ? at::kFloat : at::kBFloat16; }

enum class Path { fused, reference, stack_and_move };

template <Path kPath>
void BM_Pack(benchmark::State& state) {
  at::set_num_threads(1);
  const int64_t tokens = state.range(0);
  const auto dtype = dtype_of(state);
  std::vector<at::Tensor> qkv;
  for (int i = 0; i < 3; ++i) qkv.push_back(at::randn({1, tokens, kHeads, kHeadDim}).to(dtype));
  const std::vector<int64_t> chunks(kRanks, kHeads / kRanks);
  for (auto _ : state) {
    at::Tensor buffer;
    if constexpr (kPath == Path::fused) buffer = tessera::all_to_all_pack(qkv, 2, chunks);
    if constexpr (kPath == Path::reference) buffer = tessera::all_to_all_pack_reference(qkv, 2, chunks);
    if constexpr (kPath == Path::stack_and_move) buffer = at::stack(qkv).movedim(3, 0).contiguous().reshape({-1});
    benchmark::DoNotOptimize(buffer.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * 3 * qkv[0].nbytes());
}

template <bool kReference>
void BM_Unpack(benchmark::State& state) {
  at::set_num_threads(1);
  const int64_t tokens = state.range(0);
  const int64_t own_heads = kHeads / kRanks;
  const at::Tensor received = at::randn({3 * kRanks * tokens * own_heads * kHeadDim}).to(dtype_of(state));
  const std::vector<int64_t> lengths(kRanks, tokens);
  const std::vector<int64_t> shape{1, kRanks * tokens, own_heads, kHeadDim};
  for (auto _ : state) {
    const at::Tensor unpacked = kReference ? tessera::all_to_all_unpack_reference(received, 3, shape, 1, lengths)
                                           : tessera::all_to_all_unpack(received, 3, shape, 1, lengths);
    benchmark::DoNotOptimize(unpacked.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * received.nbytes());
}

void shapes(benchmark::internal::Benchmark* benchmark) {
  for (const int64_t tokens : {1536, 4096}) {
    for (const int64_t bits : {32, 16}) benchmark->Args({tokens, bits});
  }
  benchmark->ArgNames({"tokens", "bits"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Pack<Path::fused>)->Name("all_to_all_pack/fused")->Apply(shapes);
BENCHMARK(BM_Pack<Path::reference>)->Name("all_to_all_pack/reference")->Apply(shapes);
BENCHMARK(BM_Pack<Path::stack_and_move>)->Name("all_to_all_pack/stack_movedim")->Apply(shapes);
BENCHMARK(BM_Unpack<false>)->Name("all_to_all_unpack/fused")->Apply(shapes);
BENCHMARK(BM_Unpack<true>)->Name("all_to_all_unpack/reference")->Apply(shapes);

}  // namespace
