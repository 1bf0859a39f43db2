#pragma once
// Ulysses' all-to-all sends each rank one chunk of a dimension: rank r gets the rows [offset_r, offset_r +
// chunk_sizes[r]) of `dim`. all_to_all_pack lays tensors out as the send buffer: for each destination rank in
// order, for each input in order, the input's chunk as one contiguous block (the dims before `dim`, the chunk,
// the dims after). all_to_all_unpack is its inverse on the receiving side: the blocks from every source rank, in
// rank order, joined along `dim`. Ulysses packs q, k, v by heads and unpacks by sequence; the output goes back
// by sequence and is unpacked by heads; the log-sum-exp likewise.
#include <ATen/core/Tensor.h>

namespace tessera {

// inputs: one or more tensors of one shape, dtype and device (any strides); chunk_sizes sum to the size of `dim`.
// Returns the 1-D send buffer, in the inputs' dtype: a view of the input when one contiguous tensor is laid out so
// already (nothing before `dim`), else a copy. CPU: a parallel block copy; CUDA: the sm_90 kernel when tessera is
// built with its CUDA kernels, else the reference.
at::Tensor all_to_all_pack(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes);
at::Tensor all_to_all_pack_reference(at::TensorList inputs, int64_t dim, at::IntArrayRef chunk_sizes);

// buffer: 1-D, the blocks of `count` tensors of `shape` whose `dim` is cut into chunk_sizes, laid out as
// all_to_all_pack lays them. Returns [count, shape...], contiguous: a view of the buffer when it is laid out so
// already (one tensor, nothing before `dim`), else a copy.
at::Tensor all_to_all_unpack(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                             at::IntArrayRef chunk_sizes);
at::Tensor all_to_all_unpack_reference(const at::Tensor& buffer, int64_t count, at::IntArrayRef shape, int64_t dim,
                                       at::IntArrayRef chunk_sizes);

}  // namespace tessera
