#include "src/models/autoencoder_kl/mid_block_attention.h"

#include <ATen/ATen.h>

namespace tessera::autoencoder_kl {

MidBlockAttention::MidBlockAttention(int64_t channels, int64_t groups) {
  group_norm_ = register_module("group_norm", std::make_shared<GroupNorm>(groups, channels, 1e-6));
  to_q_ = register_module("to_q", std::make_shared<Linear>(channels, channels));
  to_k_ = register_module("to_k", std::make_shared<Linear>(channels, channels));
  to_v_ = register_module("to_v", std::make_shared<Linear>(channels, channels));
  // diffusers' to_out is [Linear, Dropout]: the Linear is "to_out.0".
  to_out_ = std::make_shared<Linear>(channels, channels);
  register_module("to_out", torch::nn::ModuleList())->push_back(to_out_);
}

at::Tensor MidBlockAttention::forward(const at::Tensor& x, const RowBands& rows) const {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const at::Tensor tokens = group_norm_->forward(x, rows).flatten(2).transpose(1, 2);  // [B, h*W, C]
  // Keys and values of every row of the image, [B, H*W, C]; queries of this band's rows only.
  const auto whole_image = [&](const at::Tensor& band_tokens) {
    return rows.gather(band_tokens.view({b, h, w * c})).view({b, -1, c});
  };
  const at::Tensor key = whole_image(to_k_->forward(tokens));
  const at::Tensor value = whole_image(to_v_->forward(tokens));
  const at::Tensor attended = at::scaled_dot_product_attention(to_q_->forward(tokens).unsqueeze(1),
                                                               key.unsqueeze(1), value.unsqueeze(1));
  const at::Tensor out = to_out_->forward(attended.squeeze(1));  // [B, h*W, C]
  return out.transpose(1, 2).reshape({b, c, h, w}) + x;
}

}  // namespace tessera::autoencoder_kl
