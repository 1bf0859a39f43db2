#include "kernels/row_offsets.h"

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/core/grad_mode.h>

#include <vector>

#include "common/check.h"

namespace tessera {
namespace {

// Leading dims of `tensor` merged where one steps through memory as the next inner one continues it
// (broadcast dims, stride 0, merge with each other); size-1 dims dropped. Outermost first.
std::vector<std::pair<int64_t, int64_t>> merged_leading_dims(const at::Tensor& tensor) {
  std::vector<std::pair<int64_t, int64_t>> merged;  // (size, stride), innermost first while building
  for (int64_t d = tensor.dim() - 2; d >= 0; --d) {
    const int64_t size = tensor.size(d), stride = tensor.stride(d);
    if (size == 1) continue;
    if (!merged.empty() && stride == merged.back().first * merged.back().second) {
      merged.back().first *= size;  // the merged level steps as its inner part did
      continue;
    }
    merged.emplace_back(size, stride);
  }
  return {merged.rbegin(), merged.rend()};
}

}  // namespace

bool kernel_operand(const at::Tensor& operand) {
  const at::ScalarType dtype = operand.scalar_type();
  const bool kernel_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  return kernel_dtype && !(at::GradMode::is_enabled() && operand.requires_grad());
}

RowOperand row_operand(const at::Tensor& operand, at::IntArrayRef shape, const char* what) {
  TESSERA_CHECK(at::is_expandable_to(operand.sizes(), shape), what, " ", operand.sizes(),
                " does not broadcast to ", shape);
  at::Tensor expanded = operand.expand(shape);
  if (!shape.empty() && expanded.stride(-1) != 1 && shape.back() > 1) expanded = expanded.contiguous();
  auto merged = merged_leading_dims(expanded);
  if (static_cast<int>(merged.size()) > RowOffsets::kMaxDims) {
    expanded = expanded.contiguous();
    merged = merged_leading_dims(expanded);
  }
  RowOffsets rows{.dims = static_cast<int>(merged.size()), .sizes = {}, .strides = {}};
  for (int d = 0; d < rows.dims; ++d) {
    rows.sizes[d] = merged[d].first;
    rows.strides[d] = merged[d].second;
  }
  return {.tensor = expanded, .rows = rows};
}

}  // namespace tessera
