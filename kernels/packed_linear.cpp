#include "kernels/packed_linear.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>

#include <optional>

#include "common/env.h"

namespace tessera {
namespace {

// Below this many rows the product is small and a pack would rarely pay for itself (the adaLN and timestep
// projections run one row per batch entry).
constexpr int64_t kLeastRows = 32;

using ReorderOp = at::Tensor(const at::Tensor&, int64_t);
using LinearOp = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                            int64_t);

struct MklOps {
  std::optional<c10::TypedOperatorHandle<ReorderOp>> reorder;
  std::optional<c10::TypedOperatorHandle<LinearOp>> linear;
};

const MklOps& mkl_ops() {
  static const MklOps ops = [] {
    MklOps found;
    if (env::string("TESSERA_CPU_PACKED_WEIGHTS", "1") == "0") return found;
    auto& dispatcher = c10::Dispatcher::singleton();
    const auto reorder = dispatcher.findSchema({"mkl::_mkl_reorder_linear_weight", ""});
    const auto linear = dispatcher.findSchema({"mkl::_mkl_linear", ""});
    if (!reorder || !linear || !reorder->hasKernelForDispatchKey(c10::DispatchKey::CPU)) return found;
    found.reorder = reorder->typed<ReorderOp>();
    found.linear = linear->typed<LinearOp>();
    return found;
  }();
  return ops;
}

int64_t rows_of(const at::Tensor& x) { return x.size(-1) == 0 ? 0 : x.numel() / x.size(-1); }

bool packable(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const bool recorded = at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad() ||
                                                       (bias.defined() && bias.requires_grad()));
  return !recorded && x.is_cpu() && weight.is_cpu() && x.scalar_type() == at::kFloat &&
         weight.scalar_type() == at::kFloat && weight.dim() == 2 && weight.is_contiguous() &&
         x.dim() >= 1 && x.size(-1) == weight.size(1) && weight.numel() > 0 &&
         (!bias.defined() || (bias.is_cpu() && bias.scalar_type() == at::kFloat)) && !weight.is_inference() &&
         rows_of(x) >= kLeastRows;
}

}  // namespace

bool PackedLinearWeight::available() { return mkl_ops().linear.has_value(); }

at::Tensor PackedLinearWeight::linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!available() || !packable(x, weight, bias)) {
    release();
    return at::linear(x, weight, bias);
  }
  const Use use{.data = weight.const_data_ptr(), .version = static_cast<int64_t>(weight._version()),
                .rows = rows_of(x)};
  if (use != last_) {
    last_ = use;
    packed_.reset();
    return at::linear(x, weight, bias);
  }
  const MklOps& ops = mkl_ops();
  if (!packed_.defined()) packed_ = ops.reorder->call(weight, use.rows);
  const std::optional<at::Tensor> bias_or_none = bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt;
  return ops.linear->call(x, packed_, weight, bias_or_none, use.rows);
}

at::Tensor packed_linear_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return at::linear(x, weight, bias);
}

}  // namespace tessera
