#include "src/models/clip/clip_encoder_layer.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera {

ClipMlp::ClipMlp(const ClipLayerConfig& config) : activation_(config.hidden_act) {
  fc1_ = register_module("fc1", std::make_shared<Linear>(config.hidden_size, config.intermediate_size));
  fc2_ = register_module("fc2", std::make_shared<Linear>(config.intermediate_size, config.hidden_size));
}

at::Tensor ClipMlp::forward(const at::Tensor& x) const {
  const at::Tensor hidden = fc1_->forward(x);
  at::Tensor activated;
  switch (activation_) {
    case ClipActivation::kQuickGelu: activated = hidden * at::sigmoid(1.702 * hidden); break;
    case ClipActivation::kGelu: activated = at::gelu(hidden); break;
    case ClipActivation::kGeluTanh: activated = at::gelu(hidden, "tanh"); break;
  }
  TESSERA_INTERNAL_ASSERT(activated.defined(), "unhandled CLIP activation");
  return fc2_->forward(activated);
}

ClipEncoderLayer::ClipEncoderLayer(const ClipLayerConfig& config) {
  self_attn_ = register_module("self_attn", std::make_shared<ClipAttention>(config));
  layer_norm1_ = register_module(
      "layer_norm1", std::make_shared<Fp32LayerNorm>(config.hidden_size, config.layer_norm_eps, true));
  mlp_ = register_module("mlp", std::make_shared<ClipMlp>(config));
  layer_norm2_ = register_module(
      "layer_norm2", std::make_shared<Fp32LayerNorm>(config.hidden_size, config.layer_norm_eps, true));
}

at::Tensor ClipEncoderLayer::forward(const at::Tensor& hidden_states) const {
  const at::Tensor after_attention = hidden_states + self_attn_->forward(layer_norm1_->forward(hidden_states));
  return after_attention + mlp_->forward(layer_norm2_->forward(after_attention));
}

}  // namespace tessera
