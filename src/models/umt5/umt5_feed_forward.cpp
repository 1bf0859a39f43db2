#include "src/models/umt5/umt5_feed_forward.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera {

Umt5FeedForward::Umt5FeedForward(const Umt5Config& config) : activation_(config.activation) {
  if (config.gated_feed_forward) {
    wi_0_ = register_module("wi_0", std::make_shared<Linear>(config.d_model, config.d_ff, /*bias=*/false));
    wi_1_ = register_module("wi_1", std::make_shared<Linear>(config.d_model, config.d_ff, /*bias=*/false));
  } else {
    wi_ = register_module("wi", std::make_shared<Linear>(config.d_model, config.d_ff, /*bias=*/false));
  }
  wo_ = register_module("wo", std::make_shared<Linear>(config.d_ff, config.d_model, /*bias=*/false));
}

at::Tensor Umt5FeedForward::activate(const at::Tensor& x) const {
  switch (activation_) {
    case Umt5Activation::kRelu: return at::relu(x);
    case Umt5Activation::kGelu: return at::gelu(x);
    case Umt5Activation::kGeluTanh: return at::gelu(x, "tanh");
    case Umt5Activation::kSilu: return at::silu(x);
  }
  TESSERA_INTERNAL_ASSERT(false, "unhandled UMT5 activation");
  return x;
}

at::Tensor Umt5FeedForward::forward(const at::Tensor& x) const {
  // The output projection may be kept in fp32 (load_umt5_encoder); its input follows it there.
  const at::Tensor hidden = wi_ ? activate(wi_->forward(x)) : activate(wi_0_->forward(x)) * wi_1_->forward(x);
  return wo_->forward(hidden.to(wo_->weight().scalar_type()));
}

}  // namespace tessera
