#include "src/models/wan/wan_attention.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>

#include "common/check.h"
#include "kernels/attention.h"
#include "kernels/rotary.h"

namespace tessera {

WanAttention::WanAttention(int64_t dim, int64_t heads, double eps, bool is_cross_attention, int64_t added_kv_proj_dim)
    : heads_(heads), is_cross_attention_(is_cross_attention) {
  to_q_ = register_module("to_q", std::make_shared<Linear>(dim, dim));
  to_k_ = register_module("to_k", std::make_shared<Linear>(dim, dim));
  to_v_ = register_module("to_v", std::make_shared<Linear>(dim, dim));
  auto to_out = register_module("to_out", torch::nn::ModuleList());  // [Linear, Dropout] as in diffusers
  to_out_ = std::make_shared<Linear>(dim, dim);
  to_out->push_back(to_out_);
  to_out->push_back(torch::nn::Dropout(0.0));
  norm_q_ = register_module("norm_q", std::make_shared<RmsNorm>(dim, eps));
  norm_k_ = register_module("norm_k", std::make_shared<RmsNorm>(dim, eps));
  if (added_kv_proj_dim > 0) {
    add_k_proj_ = register_module("add_k_proj", std::make_shared<Linear>(added_kv_proj_dim, dim));
    add_v_proj_ = register_module("add_v_proj", std::make_shared<Linear>(added_kv_proj_dim, dim));
    norm_added_k_ = register_module("norm_added_k", std::make_shared<RmsNorm>(dim, eps));
  }
}

Outputs WanAttention::forward_impl(Args& args) {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  const at::Tensor* encoder_hidden_states = args.get_if<at::Tensor>("encoder_hidden_states");
  TESSERA_CHECK(!is_cross_attention_ || encoder_hidden_states != nullptr,
                "cross-attention needs encoder_hidden_states");
  const at::Tensor& context = encoder_hidden_states ? *encoder_hidden_states : hidden_states;
  at::Tensor q = split_heads(norm_q_->forward(to_q_->forward(hidden_states)));
  const at::Tensor* given_k = args.get_if<at::Tensor>(kTextKey);
  const at::Tensor* given_v = args.get_if<at::Tensor>(kTextValue);
  TESSERA_CHECK((given_k == nullptr && given_v == nullptr) || (is_cross_attention_ && given_k && given_v),
                "text keys and values are given to a cross-attention only, both together");
  at::Tensor k = given_k != nullptr ? *given_k : project_key(context);
  const at::Tensor v = given_v != nullptr ? *given_v : project_value(context);
  if (const at::Tensor* cos = args.get_if<at::Tensor>("freqs_cos")) {
    const at::Tensor& sin = args.tensor("freqs_sin");
    q = apply_rotary_embedding(q, *cos, sin);
    k = apply_rotary_embedding(k, *cos, sin);
  }
  AttentionOptions options;
  options.sequence_parallel = !is_cross_attention_;  // text keys are never split: cross-attention stays local
  at::Tensor attended = attention(q, k, v, options).output.flatten(2, 3).to(q.scalar_type());
  if (const at::Tensor* image = args.get_if<at::Tensor>("encoder_hidden_states_image")) {
    TESSERA_CHECK(add_k_proj_ != nullptr, "encoder_hidden_states_image given to an attention without image keys ",
                  "(added_kv_proj_dim)");
    // The image's keys are whole on every rank too: the image attention stays local like the text's.
    const at::Tensor image_k = split_heads(norm_added_k_->forward(add_k_proj_->forward(*image)));
    const at::Tensor image_v = split_heads(add_v_proj_->forward(*image));
    attended = attended + attention(q, image_k, image_v, options).output.flatten(2, 3).to(q.scalar_type());
  }
  return {to_out_->forward(attended)};
}

// The projections of the keys and values, one for the forward and TextKVCache (the same code, so the same bits).
at::Tensor WanAttention::project_key(const at::Tensor& context) const {
  return split_heads(norm_k_->forward(to_k_->forward(context)));
}

at::Tensor WanAttention::project_value(const at::Tensor& context) const { return split_heads(to_v_->forward(context)); }

Args WanAttention::text_key_values(const Args& args) const {
  TESSERA_INTERNAL_ASSERT(is_cross_attention_, "a self-attention's keys come from its own input");
  const at::Tensor& context = args.tensor("encoder_hidden_states");
  // Kept with each head's rows packed, as the CPU attention takes them: copied once per generation instead of at
  // every step.
  return {{kTextKey, with_packed_head_rows(project_key(context))},
          {kTextValue, with_packed_head_rows(project_value(context))}};
}

}  // namespace tessera
