#include "kernels/lse_merge.h"

#include <ATen/ATen.h>

#include <limits>
#include <vector>

#include "common/check.h"
#include "kernels/cpu_kernels.h"
#include "kernels/cuda_architectures.h"
#include "kernels/cuda_kernels.h"

namespace tessera {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

void check_arguments(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                     const at::Tensor& partial_lse) {
  TESSERA_CHECK(output.dim() == 4 && output.scalar_type() == at::kFloat, "lse_merge accumulates into an fp32 ",
                "output [batch, seq, heads, head_dim], got ", output.scalar_type(), " ", output.sizes());
  const std::vector<int64_t> lse_shape{output.size(0), output.size(2), output.size(1)};
  TESSERA_CHECK(lse.scalar_type() == at::kFloat && lse.sizes() == at::IntArrayRef(lse_shape),
                "lse_merge: the log-sum-exp accumulator must be fp32 ", at::IntArrayRef(lse_shape), ", got ",
                lse.scalar_type(), " ", lse.sizes());
  TESSERA_CHECK(partial_output.sizes() == output.sizes() && at::isFloatingType(partial_output.scalar_type()),
                "lse_merge: the partial output must be a floating tensor of the output's shape ", output.sizes(),
                ", got ", partial_output.scalar_type(), " ", partial_output.sizes());
  TESSERA_CHECK(partial_lse.scalar_type() == at::kFloat && partial_lse.sizes() == lse.sizes(),
                "lse_merge: the partial log-sum-exp must be fp32 ", lse.sizes(), ", got ", partial_lse.scalar_type(),
                " ", partial_lse.sizes());
  TESSERA_CHECK(output.device() == lse.device() && output.device() == partial_output.device() &&
                    output.device() == partial_lse.device(),
                "lse_merge: every tensor must be on one device, got ", output.device(), ", ", lse.device(), ", ",
                partial_output.device(), ", ", partial_lse.device());
}

}  // namespace

void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse) {
  check_arguments(output, lse, partial_output, partial_lse);
  if (output.numel() == 0) return;
  if (output.is_cpu() && output.stride(3) == 1) {
    const at::Tensor partial = partial_output.stride(3) == 1 ? partial_output : partial_output.contiguous();
    cpu_kernels::lse_merge(output, lse, partial, partial_lse);
    return;
  }
#ifdef TESSERA_WITH_CUDA_KERNELS
  if (cuda_kernels_run_on(output.device())) {
    lse_merge_cuda(output, lse, partial_output, partial_lse);
    return;
  }
#endif
  lse_merge_reference(output, lse, partial_output, partial_lse);
}

void lse_merge_reference(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                         const at::Tensor& partial_lse) {
  const at::Tensor merged = at::logaddexp(lse, partial_lse);
  const at::Tensor seen = merged.ne(kMinusInfinity);  // both -inf: exp(-inf - -inf) is NaN, the weight is 0
  // lse is [B, H, S]; outputs are [B, S, H, D].
  auto weight = [&](const at::Tensor& part) {
    return at::where(seen, at::exp(part - merged), 0.0f).transpose(1, 2).unsqueeze(-1);
  };
  const at::Tensor kept = weight(lse), added = weight(partial_lse);
  output.mul_(kept).add_(partial_output.to(at::kFloat) * added);
  lse.copy_(merged);
}

}  // namespace tessera
