#pragma once
// Where each row (the last dim) of a tensor that broadcasts to a kernel's shape starts: the fused kernels walk
// rows, and a modulation vector [B, 1, C], a per-token one [B, S, C] or rotary frequencies [1, S, 1, D] are
// read in place through their strides instead of being expanded into memory.
#include <ATen/core/Tensor.h>
#include <c10/macros/Macros.h>

#include <cstdint>

namespace tessera {

struct RowOffsets {
  static constexpr int kMaxDims = 4;
  int dims;                  // leading dims after merging those that step through memory together
  int64_t sizes[kMaxDims];   // rows along each, outermost first
  int64_t strides[kMaxDims]; // elements between consecutive rows along each (0 where the operand broadcasts)

  // Element offset of row `row` (rows counted over the kernel's leading dims in row-major order).
  C10_HOST_DEVICE int64_t operator()(int64_t row) const {
    int64_t offset = 0;
    for (int d = dims - 1; d >= 0; --d) {
      offset += (row % sizes[d]) * strides[d];
      row /= sizes[d];
    }
    return offset;
  }
};

// An operand of a fused kernel, broadcast to the kernel's shape `shape` (its last dim the row).
struct RowOperand {
  at::Tensor tensor;  // the operand as read: expanded (a view), made contiguous only where its strides need it
  RowOffsets rows;
};

// Whether a fused kernel takes this operand: float, bfloat16 or half, and nothing autograd records (the kernels
// have no backward).
bool kernel_operand(const at::Tensor& operand);

// Whether the fused kernels take these operands (the dispatch functions run the reference otherwise): all on
// first's device, each a kernel_operand, and something to compute.
template <typename... Rest>
bool kernels_take(const at::Tensor& first, const Rest&... rest) {
  return first.numel() > 0 && kernel_operand(first) &&
         ((kernel_operand(rest) && rest.device() == first.device()) && ...);
}

// `operand` broadcast to `shape` (TESSERA_CHECK when it does not broadcast, naming `what`), read in place when
// its last dim is dense and its leading strides merge into at most RowOffsets::kMaxDims levels.
RowOperand row_operand(const at::Tensor& operand, at::IntArrayRef shape, const char* what);

}  // namespace tessera
