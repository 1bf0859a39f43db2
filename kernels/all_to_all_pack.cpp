#include "kernels/all_to_all_pack.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "common/check.h"
#include "kernels/cuda_architectures.h"
#include "kernels/cuda_kernels.h"

namespace tessera {
namespace {

// A tensor of `shape` seen as [outer, rows, inner] around `dim`, its rows cut into chunks; the buffer holds, for
// each chunk r, `count` blocks of outer x chunk x inner elements.
struct ChunkLayout {
  int64_t outer = 1;
  int64_t rows = 0;
  int64_t inner = 1;
  std::vector<int64_t> row_offsets;   // first row of each chunk
  std::vector<int64_t> block_starts;  // buffer offset of each chunk's first block, in elements
};

ChunkLayout chunk_layout(at::IntArrayRef shape, int64_t dim, at::IntArrayRef chunk_sizes, int64_t count,
                         const char* operation) {
  ChunkLayout layout;
  for (int64_t d = 0; d < dim; ++d) layout.outer *= shape[d];
  layout.rows = shape[dim];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) layout.inner *= shape[d];
  int64_t row = 0, start = 0;
  for (const int64_t chunk : chunk_sizes) {
    TESSERA_CHECK(chunk >= 0, operation, ": chunk sizes must not be negative, got ", chunk_sizes);
    layout.row_offsets.push_back(row);
    layout.block_starts.push_back(start);
    row += chunk;
    start += count * layout.outer * chunk * layout.inner;
  }
  TESSERA_CHECK(row == layout.rows, operation, ": chunk sizes ", chunk_sizes, " do not cut the ", layout.rows,
                " rows of dim ", dim, " of a ", shape, " tensor");
  return layout;
}

int64_t checked_dim(int64_t dim, int64_t ndim, const char* operation) {
  TESSERA_CHECK(ndim > 0 && dim >= -ndim && dim < ndim, operation, ": dim ", dim, " is out of range for ", ndim,
                " dimensions");
  return dim < 0 ? dim + ndim : dim;
}

void check_inputs(at::TensorList inputs) {
  TESSERA_CHECK(!inputs.empty(), "all_to_all_pack needs at least one tensor");
  for (const at::Tensor& input : inputs) {
    TESSERA_CHECK(input.sizes() == inputs[0].sizes() && input.scalar_type() == inputs[0].scalar_type() &&
                      input.device() == inputs[0].device(),
                  "all_to_all_pack packs tensors of one shape, dtype and device, got ", inputs[0].sizes(), " ",
                  inputs[0].scalar_type(), " on ", inputs[0].device(), " and ", input.sizes(), " ",
                  input.scalar_type(), " on ", input.device());
  }
}

// Whether the dims after `dim` form one contiguous run, so that a row of the chunk copies as one block.
bool rows_are_contiguous(const at::Tensor& tensor, int64_t dim) {
  int64_t expected = 1;
  for (int64_t d = tensor.dim() - 1; d > dim; --d) {
    if (tensor.size(d) != 1 && tensor.stride(d) != expected) return false;
    expected *= tensor.size(d);
  }
  return true;
}

// Element offset of the outer index `outer` (the dims before `dim` flattened), through the tensor's strides.
int64_t outer_offset(const at::Tensor& tensor, int64_t dim, int64_t outer) {
  int64_t offset = 0;
  for (int64_t d = dim - 1; d >= 0; --d) {
    offset += outer % tensor.size(d) * tensor.stride(d);
    outer /= tensor.size(d);
  }
  return offset;
}

int64_t grain_for(const ChunkLayout& layout, int64_t chunks) {
  const int64_t block = std::max<int64_t>(1, layout.rows / std::max<int64_t>(chunks, 1) * layout.inner);
  return std::max<int64_t>(1, at::internal::GRAIN_SIZE / block);
}

// A copy, so no arithmetic to vectorise: each task moves one (chunk, input, outer index) block, as one memcpy
// when the chunk's rows are adjacent in the source.
at::Tensor pack_cpu(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes) {
  const auto count = static_cast<int64_t>(inputs.size());
  const ChunkLayout layout = chunk_layout(inputs[0].sizes(), dim, chunk_sizes, count, "all_to_all_pack");
  std::vector<at::Tensor> sources;
  for (const at::Tensor& input : inputs) {
    sources.push_back(rows_are_contiguous(input, dim) ? input : input.contiguous());
  }
  at::Tensor buffer = at::empty({count * inputs[0].numel()}, inputs[0].options());
  if (buffer.numel() == 0) return buffer;
  const int64_t element = buffer.element_size(), chunks = static_cast<int64_t>(chunk_sizes.size());
  char* const destination = static_cast<char*>(buffer.data_ptr());
  at::parallel_for(0, chunks * count * layout.outer, grain_for(layout, chunks), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t chunk = task / (count * layout.outer), input = task / layout.outer % count;
      const int64_t outer = task % layout.outer, rows = chunk_sizes[chunk];
      if (rows == 0) continue;
      const at::Tensor& source = sources[input];
      const int64_t row_stride = source.stride(dim);
      const char* from = static_cast<const char*>(source.const_data_ptr()) +
                         (outer_offset(source, dim, outer) + layout.row_offsets[chunk] * row_stride) * element;
      char* to = destination +
                 (layout.block_starts[chunk] + (input * layout.outer + outer) * rows * layout.inner) * element;
      const int64_t row_bytes = layout.inner * element;
      if (row_stride == layout.inner) {
        std::memcpy(to, from, rows * row_bytes);
        continue;
      }
      for (int64_t row = 0; row < rows; ++row) {
        std::memcpy(to + row * row_bytes, from + row * row_stride * element, row_bytes);
      }
    }
  });
  return buffer;
}

at::Tensor unpack_cpu(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, at::IntArrayRef chunk_sizes,
                      const ChunkLayout& layout) {
  std::vector<int64_t> stacked_shape{count};
  stacked_shape.insert(stacked_shape.end(), shape.begin(), shape.end());
  at::Tensor output = at::empty(stacked_shape, buffer.options());
  if (output.numel() == 0) return output;
  const at::Tensor source = buffer.contiguous();
  const int64_t element = buffer.element_size(), chunks = static_cast<int64_t>(chunk_sizes.size());
  const char* const from_base = static_cast<const char*>(source.const_data_ptr());
  char* const to_base = static_cast<char*>(output.data_ptr());
  at::parallel_for(0, chunks * count * layout.outer, grain_for(layout, chunks), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t chunk = task / (count * layout.outer), input = task / layout.outer % count;
      const int64_t outer = task % layout.outer, rows = chunk_sizes[chunk];
      if (rows == 0) continue;
      const char* from =
          from_base + (layout.block_starts[chunk] + (input * layout.outer + outer) * rows * layout.inner) * element;
      char* to = to_base +
                 ((input * layout.outer + outer) * layout.rows + layout.row_offsets[chunk]) * layout.inner * element;
      std::memcpy(to, from, rows * layout.inner * element);
    }
  });
  return output;
}

}  // namespace

at::Tensor all_to_all_pack(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes) {
  check_inputs(inputs);
  const int64_t d = checked_dim(dim, inputs[0].dim(), "all_to_all_pack");
  const ChunkLayout layout =
      chunk_layout(inputs[0].sizes(), d, chunk_sizes, static_cast<int64_t>(inputs.size()), "all_to_all_pack");
  // One contiguous tensor with nothing before `dim` is its own buffer (Ulysses' output at batch 1).
  if (inputs.size() == 1 && layout.outer == 1 && inputs[0].is_contiguous()) return inputs[0].reshape({-1});
  if (inputs[0].is_cpu()) return pack_cpu(inputs, d, chunk_sizes);
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(inputs[0].device())) return all_to_all_pack_cuda(inputs, d, chunk_sizes);
#endif
  return all_to_all_pack_reference(inputs, d, chunk_sizes);
}

at::Tensor all_to_all_pack_reference(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes) {
  check_inputs(inputs);
  const int64_t d = checked_dim(dim, inputs[0].dim(), "all_to_all_pack");
  const ChunkLayout layout =
      chunk_layout(inputs[0].sizes(), d, chunk_sizes, static_cast<int64_t>(inputs.size()), "all_to_all_pack");
  std::vector<at::Tensor> blocks;
  for (size_t chunk = 0; chunk < chunk_sizes.size(); ++chunk) {
    for (const at::Tensor& input : inputs) {
      blocks.push_back(input.narrow(d, layout.row_offsets[chunk], chunk_sizes[chunk]).reshape({-1}));
    }
  }
  return at::cat(blocks);
}

at::Tensor all_to_all_unpack(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                             at::IntArrayRef chunk_sizes) {
  const int64_t d = checked_dim(dim, static_cast<int64_t>(shape.size()), "all_to_all_unpack");
  TESSERA_CHECK(count >= 1, "all_to_all_unpack: count must be at least 1, got ", count);
  const ChunkLayout layout = chunk_layout(shape, d, chunk_sizes, count, "all_to_all_unpack");
  const int64_t expected = count * layout.outer * layout.rows * layout.inner;
  TESSERA_CHECK(buffer.dim() == 1 && buffer.numel() == expected, "all_to_all_unpack: a buffer of ", count, " x ",
                shape, " holds ", expected, " elements in one dimension, got ", buffer.sizes());
  if (count == 1 && layout.outer == 1) {  // the blocks already follow each other along `dim`
    return buffer.view(shape).unsqueeze(0);
  }
  if (buffer.is_cpu()) return unpack_cpu(buffer, count, shape, chunk_sizes, layout);
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(buffer.device())) return all_to_all_unpack_cuda(buffer, count, shape, d, chunk_sizes);
#endif
  return all_to_all_unpack_reference(buffer, count, shape, d, chunk_sizes);
}

at::Tensor all_to_all_unpack_reference(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                                       at::IntArrayRef chunk_sizes) {
  const int64_t d = checked_dim(dim, static_cast<int64_t>(shape.size()), "all_to_all_unpack");
  const ChunkLayout layout = chunk_layout(shape, d, chunk_sizes, count, "all_to_all_unpack");
  std::vector<at::Tensor> outputs;
  for (int64_t input = 0; input < count; ++input) {
    std::vector<at::Tensor> pieces;
    for (size_t chunk = 0; chunk < chunk_sizes.size(); ++chunk) {
      std::vector<int64_t> block_shape(shape.begin(), shape.end());
      block_shape[d] = chunk_sizes[chunk];
      const int64_t block = layout.outer * chunk_sizes[chunk] * layout.inner;
      pieces.push_back(buffer.narrow(0, layout.block_starts[chunk] + input * block, block).view(block_shape));
    }
    outputs.push_back(at::cat(pieces, d));
  }
  return at::stack(outputs);
}

}  // namespace tessera
