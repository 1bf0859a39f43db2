// gelu_tanh_'s CPU kernel, compiled once per instruction set (kernels/cpu_kernels.h).
#include <ATen/ATen.h>

#include "kernels/cpu_kernels.h"
#include "kernels/cpu_rows.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {
namespace {

// Values per chunk: the chunk and its tanh arguments (2 x 128 KiB) stay in a core's L2 cache across the three passes.
constexpr int64_t kChunk = 32768;
constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kKappa = 0.044715f;

// x[0, count) in place; `arguments` holds kChunk fp32 values.
void gelu_chunk(float* x, int64_t count, at::Tensor& arguments) {
  float* argument = arguments.mutable_data_ptr<float>();
  const Vec beta(kBeta), kappa(kKappa), half(0.5f), one(1.f);
  int64_t j = 0;
  for (; j + Vec::size() <= count; j += Vec::size()) {
    const Vec v = Vec::loadu(x + j);
    (beta * (v + kappa * v * v * v)).store(argument + j);
  }
  for (; j < count; ++j) argument[j] = kBeta * (x[j] + kKappa * x[j] * x[j] * x[j]);
  arguments.narrow(0, 0, count).tanh_();
  for (j = 0; j + Vec::size() <= count; j += Vec::size()) {
    const Vec v = Vec::loadu(x + j);
    (half * v * (one + Vec::loadu(argument + j))).store(x + j);
  }
  for (; j < count; ++j) x[j] = 0.5f * x[j] * (1.f + argument[j]);
}

}  // namespace

void gelu_tanh(float* x, int64_t count) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    at::Tensor arguments = at::empty({kChunk}, at::kFloat);
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t start = chunk * kChunk;
      gelu_chunk(x + start, std::min(kChunk, count - start), arguments);
    }
  });
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
