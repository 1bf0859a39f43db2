#pragma once
// One CLIP encoder layer ("encoder.layers.N" of the text or the vision model): pre-norm self-attention (layer_norm1,
// self_attn; causal in the text model) and pre-norm MLP (layer_norm2, mlp.fc1, the activation, mlp.fc2), each added
// back to the residual stream.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/clip/clip_attention.h"
#include "src/models/clip/clip_layer_config.h"
#include "src/models/layers.h"

namespace tessera {

class ClipMlp : public torch::nn::Module {
 public:
  explicit ClipMlp(const ClipLayerConfig& config);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  ClipActivation activation_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

class ClipEncoderLayer : public torch::nn::Module {
 public:
  explicit ClipEncoderLayer(const ClipLayerConfig& config);
  // hidden_states [batch, tokens, hidden_size] -> the same, in the weights' dtype.
  at::Tensor forward(const at::Tensor& hidden_states) const;

 private:
  std::shared_ptr<ClipAttention> self_attn_;
  std::shared_ptr<Fp32LayerNorm> layer_norm1_, layer_norm2_;
  std::shared_ptr<ClipMlp> mlp_;
};

}  // namespace tessera
