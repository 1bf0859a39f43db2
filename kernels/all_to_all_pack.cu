// all_to_all_pack / all_to_all_unpack on sm_90: one thread per element of the tensor written (the send buffer,
// or the unpacked [count, shape...]), so the writes coalesce; elements move as words of their size, whatever the
// dtype. Layouts beyond the kernel's fixed tables (more than kMaxChunks ranks, more than kMaxInputs tensors)
// take the reference.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <cstdint>
#include <vector>

#include "kernels/all_to_all_pack.h"
#include "kernels/cuda_kernels.h"

namespace tessera {
namespace {

constexpr int kMaxChunks = 64;
constexpr int kMaxInputs = 4;
constexpr int kThreads = 256;

struct Layout {
  int64_t outer, rows, inner, chunks;
  int64_t row_offsets[kMaxChunks + 1];   // row_offsets[chunks] = rows
  int64_t block_starts[kMaxChunks + 1];  // block_starts[chunks] = the buffer's size
};

template <typename word_t>
struct Sources {
  const word_t* data[kMaxInputs];
};

Layout make_layout(at::IntArrayRef shape, int64_t dim, at::IntArrayRef chunk_sizes, int64_t count) {
  Layout layout{};
  layout.outer = 1;
  layout.inner = 1;
  for (int64_t d = 0; d < dim; ++d) layout.outer *= shape[d];
  layout.rows = shape[dim];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) layout.inner *= shape[d];
  layout.chunks = static_cast<int64_t>(chunk_sizes.size());
  int64_t row = 0, start = 0;
  for (int64_t chunk = 0; chunk < layout.chunks; ++chunk) {
    layout.row_offsets[chunk] = row;
    layout.block_starts[chunk] = start;
    row += chunk_sizes[chunk];
    start += count * layout.outer * chunk_sizes[chunk] * layout.inner;
  }
  layout.row_offsets[layout.chunks] = row;
  layout.block_starts[layout.chunks] = start;
  return layout;
}

// The last chunk whose start is <= value among the non-empty ones (starts are non-decreasing).
__device__ int64_t chunk_of(const int64_t* starts, int64_t chunks, int64_t value) {
  int64_t chunk = 0;
  while (chunk + 1 < chunks && starts[chunk + 1] <= value) ++chunk;
  return chunk;
}

template <typename word_t>
__global__ void pack_kernel(Sources<word_t> sources, word_t* buffer, Layout layout, int64_t total) {
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total;
       index += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t chunk = chunk_of(layout.block_starts, layout.chunks, index);
    const int64_t rows = layout.row_offsets[chunk + 1] - layout.row_offsets[chunk];
    const int64_t block = layout.outer * rows * layout.inner;
    const int64_t local = index - layout.block_starts[chunk];
    const int64_t input = local / block, within = local % block;
    const int64_t outer = within / (rows * layout.inner), rest = within % (rows * layout.inner);
    const int64_t row = layout.row_offsets[chunk] + rest / layout.inner, column = rest % layout.inner;
    buffer[index] = sources.data[input][(outer * layout.rows + row) * layout.inner + column];
  }
}

template <typename word_t>
__global__ void unpack_kernel(const word_t* buffer, word_t* output, Layout layout, int64_t total) {
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total;
       index += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t column = index % layout.inner, row = index / layout.inner % layout.rows;
    const int64_t outer = index / layout.inner / layout.rows % layout.outer;
    const int64_t input = index / layout.inner / layout.rows / layout.outer;
    const int64_t chunk = chunk_of(layout.row_offsets, layout.chunks, row);
    const int64_t rows = layout.row_offsets[chunk + 1] - layout.row_offsets[chunk];
    output[index] = buffer[layout.block_starts[chunk] +
                           ((input * layout.outer + outer) * rows + row - layout.row_offsets[chunk]) * layout.inner +
                           column];
  }
}

dim3 grid_for(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return dim3(static_cast<unsigned>(std::min<int64_t>(blocks, 65535 * 8)));
}

// Runs `launch` with the unsigned integer type of the element's size; false for sizes the kernels do not move.
template <typename Launch>
bool with_word(int64_t element_size, Launch&& launch) {
  switch (element_size) {
    case 1: launch(uint8_t{}); return true;
    case 2: launch(uint16_t{}); return true;
    case 4: launch(uint32_t{}); return true;
    case 8: launch(uint64_t{}); return true;
    default: return false;
  }
}

}  // namespace

at::Tensor all_to_all_pack_cuda(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes) {
  const auto count = static_cast<int64_t>(inputs.size());
  if (count > kMaxInputs || static_cast<int64_t>(chunk_sizes.size()) > kMaxChunks) {
    return all_to_all_pack_reference(inputs, dim, chunk_sizes);
  }
  const c10::cuda::CUDAGuard guard(inputs[0].device());
  std::vector<at::Tensor> contiguous;
  for (const at::Tensor& input : inputs) contiguous.push_back(input.contiguous());
  at::Tensor buffer = at::empty({count * inputs[0].numel()}, inputs[0].options());
  const int64_t total = buffer.numel();
  if (total == 0) return buffer;
  const Layout layout = make_layout(inputs[0].sizes(), dim, chunk_sizes, count);
  const auto stream = at::cuda::getCurrentCUDAStream();
  const bool launched = with_word(buffer.element_size(), [&](auto word) {
    using word_t = decltype(word);
    Sources<word_t> sources{};
    for (int64_t i = 0; i < count; ++i) sources.data[i] = static_cast<const word_t*>(contiguous[i].const_data_ptr());
    pack_kernel<word_t><<<grid_for(total), kThreads, 0, stream>>>(sources, static_cast<word_t*>(buffer.data_ptr()),
                                                                  layout, total);
  });
  if (!launched) return all_to_all_pack_reference(inputs, dim, chunk_sizes);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return buffer;
}

at::Tensor all_to_all_unpack_cuda(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                                  at::IntArrayRef chunk_sizes) {
  if (static_cast<int64_t>(chunk_sizes.size()) > kMaxChunks) {
    return all_to_all_unpack_reference(buffer, count, shape, dim, chunk_sizes);
  }
  const c10::cuda::CUDAGuard guard(buffer.device());
  std::vector<int64_t> stacked_shape{count};
  stacked_shape.insert(stacked_shape.end(), shape.begin(), shape.end());
  at::Tensor output = at::empty(stacked_shape, buffer.options());
  const int64_t total = output.numel();
  if (total == 0) return output;
  const at::Tensor source = buffer.contiguous();
  const Layout layout = make_layout(shape, dim, chunk_sizes, count);
  const auto stream = at::cuda::getCurrentCUDAStream();
  const bool launched = with_word(buffer.element_size(), [&](auto word) {
    using word_t = decltype(word);
    unpack_kernel<word_t><<<grid_for(total), kThreads, 0, stream>>>(
        static_cast<const word_t*>(source.const_data_ptr()), static_cast<word_t*>(output.data_ptr()), layout, total);
  });
  if (!launched) return all_to_all_unpack_reference(buffer, count, shape, dim, chunk_sizes);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

}  // namespace tessera
