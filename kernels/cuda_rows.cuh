#pragma once
// Device helpers of the fused CUDA kernels (kernels/*.cu only): fp32 loads of any of the kernels' dtypes,
// rounding through a dtype, and a block-wide sum.
#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "common/check.h"

namespace tessera::cuda_rows {

template <typename T>
__device__ __forceinline__ float load(const T* data, int64_t index) {
  return static_cast<float>(data[index]);
}

// What storing `value` in dtype T and reading it back gives.
template <typename T>
__device__ __forceinline__ float round_to(float value) {
  return static_cast<float>(static_cast<T>(value));
}

constexpr int kBlockThreads = 256;

// Sum of `value` over the block (kBlockThreads threads), returned to every thread. Uses `scratch`
// (kBlockThreads / 32 floats of shared memory), which may be reused after the call.
__device__ __forceinline__ float block_sum(float value, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kBlockThreads / 32; ++w) total += scratch[w];
  __syncthreads();
  return total;
}

// Calls `body` with a value of the C++ type of `type` (float, c10::BFloat16 or c10::Half), the dtypes the
// dispatch functions hand the kernels.
template <typename Body>
void with_dtype(c10::ScalarType type, const Body& body) {
  switch (type) {
    case at::kFloat:
      return body(float{});
    case at::kBFloat16:
      return body(c10::BFloat16{});
    case at::kHalf:
      return body(c10::Half{});
    default:
      TESSERA_INTERNAL_ASSERT(false, "no CUDA kernel for ", type);
  }
}

// Blocks of kBlockThreads for a grid-stride loop over `items`.
inline unsigned int grid_blocks(int64_t items) {
  const int64_t blocks = (items + kBlockThreads - 1) / kBlockThreads;
  return static_cast<unsigned int>(blocks < (int64_t{1} << 30) ? (blocks > 0 ? blocks : 1) : (int64_t{1} << 30));
}

}  // namespace tessera::cuda_rows
