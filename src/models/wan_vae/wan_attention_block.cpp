#include "src/models/wan_vae/wan_attention_block.h"

#include <ATen/ATen.h>

namespace tessera::wan_vae {
namespace {

// [N, C, h, W] -> [N, 1, h*W, C]: one head, a token per pixel.
at::Tensor as_tokens(const at::Tensor& images) {
  return images.flatten(2).transpose(1, 2).unsqueeze(1);
}

}  // namespace

WanAttentionBlock::WanAttentionBlock(int64_t dim) {
  norm_ = register_module("norm", std::make_shared<ChannelRmsNorm>(dim, /*images=*/true));
  to_qkv_ = register_module("to_qkv", std::make_shared<Conv2d>(dim, dim * 3, 1));
  proj_ = register_module("proj", std::make_shared<Conv2d>(dim, dim, 1));
}

at::Tensor WanAttentionBlock::forward(const at::Tensor& x, const RowBands& rows) const {
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  const at::Tensor images = x.permute({0, 2, 1, 3, 4}).reshape({b * t, c, h, w});
  const at::Tensor qkv = to_qkv_->forward(norm_->forward(images), rows);
  // Keys and values of every row of the frame; queries of this band's rows only.
  const at::Tensor key_value = rows.gather(qkv.narrow(1, c, 2 * c));
  const at::Tensor attended = at::scaled_dot_product_attention(
      as_tokens(qkv.narrow(1, 0, c)), as_tokens(key_value.narrow(1, 0, c)), as_tokens(key_value.narrow(1, c, c)));
  const at::Tensor out = proj_->forward(attended.squeeze(1).transpose(1, 2).reshape({b * t, c, h, w}), rows);
  return out.view({b, t, c, h, w}).permute({0, 2, 1, 3, 4}) + x;
}

}  // namespace tessera::wan_vae
