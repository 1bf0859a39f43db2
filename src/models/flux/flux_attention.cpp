#include "src/models/flux/flux_attention.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>

#include "common/check.h"
#include "kernels/attention.h"
#include "kernels/rotary.h"

namespace tessera {

FluxAttention::FluxAttention(Shape shape, Form form, double eps) : shape_(shape), form_(form) {
  const int64_t inner = shape.heads * shape.head_dim;
  norm_q_ = register_module("norm_q", std::make_shared<RmsNorm>(shape.head_dim, eps));
  norm_k_ = register_module("norm_k", std::make_shared<RmsNorm>(shape.head_dim, eps));
  to_q_ = register_module("to_q", std::make_shared<Linear>(shape.dim, inner));
  to_k_ = register_module("to_k", std::make_shared<Linear>(shape.dim, inner));
  to_v_ = register_module("to_v", std::make_shared<Linear>(shape.dim, inner));
  if (form == Form::single_stream) return;
  auto to_out = register_module("to_out", torch::nn::ModuleList());  // [Linear, Dropout] as in diffusers
  to_out_ = std::make_shared<Linear>(inner, shape.dim);
  to_out->push_back(to_out_);
  to_out->push_back(torch::nn::Dropout(0.0));
  norm_added_q_ = register_module("norm_added_q", std::make_shared<RmsNorm>(shape.head_dim, eps));
  norm_added_k_ = register_module("norm_added_k", std::make_shared<RmsNorm>(shape.head_dim, eps));
  add_q_proj_ = register_module("add_q_proj", std::make_shared<Linear>(shape.dim, inner));
  add_k_proj_ = register_module("add_k_proj", std::make_shared<Linear>(shape.dim, inner));
  add_v_proj_ = register_module("add_v_proj", std::make_shared<Linear>(shape.dim, inner));
  to_add_out_ = register_module("to_add_out", std::make_shared<Linear>(inner, shape.dim));
}

at::Tensor FluxAttention::heads(Linear& projection, const RmsNorm* norm, const at::Tensor& x) const {
  const at::Tensor split = projection.forward(x).unflatten(-1, {-1, shape_.head_dim});
  return norm != nullptr ? norm->forward(split) : split;
}

Outputs FluxAttention::forward_impl(Args& args) {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  at::Tensor q = heads(*to_q_, norm_q_.get(), hidden_states);
  at::Tensor k = heads(*to_k_, norm_k_.get(), hidden_states);
  at::Tensor v = heads(*to_v_, nullptr, hidden_states);
  int64_t text_tokens = 0;
  if (form_ == Form::double_stream) {
    const at::Tensor& text = args.tensor("encoder_hidden_states");
    text_tokens = text.size(1);
    q = at::cat({heads(*add_q_proj_, norm_added_q_.get(), text), q}, 1);
    k = at::cat({heads(*add_k_proj_, norm_added_k_.get(), text), k}, 1);
    v = at::cat({heads(*add_v_proj_, nullptr, text), v}, 1);
  }
  const at::Tensor& cos = args.tensor("freqs_cos");
  const at::Tensor& sin = args.tensor("freqs_sin");
  TESSERA_CHECK(cos.dim() == 2 && cos.size(0) == q.size(1) && cos.size(1) == shape_.head_dim,
                "FluxAttention: rotary frequencies ", cos.sizes(), " do not match ", q.size(1), " tokens of head dim ",
                shape_.head_dim, "; the position ids must count the text and image tokens");
  const at::Tensor cos_heads = cos.unsqueeze(0).unsqueeze(2), sin_heads = sin.unsqueeze(0).unsqueeze(2);
  q = apply_rotary_embedding(q, cos_heads, sin_heads);
  k = apply_rotary_embedding(k, cos_heads, sin_heads);

  AttentionOptions options;
  options.sequence_parallel = true;  // the joint sequence is what context parallelism splits
  const at::Tensor attended = attention(q, k, v, options).output.flatten(2, 3).to(q.scalar_type());
  if (form_ == Form::single_stream) return {attended};
  const at::Tensor text_part = attended.narrow(1, 0, text_tokens).contiguous();
  const at::Tensor image_part = attended.narrow(1, text_tokens, attended.size(1) - text_tokens).contiguous();
  return {to_out_->forward(image_part), to_add_out_->forward(text_part)};
}

}  // namespace tessera
