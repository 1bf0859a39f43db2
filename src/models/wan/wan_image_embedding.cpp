#include "src/models/wan/wan_image_embedding.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/parameters.h"

namespace tessera {

WanImageEmbedding::WanImageEmbedding(int64_t image_dim, int64_t dim, int64_t pos_embed_seq_len)
    : image_dim_(image_dim) {
  // diffusers' FP32LayerNorm defaults: eps 1e-5, with weight and bias.
  norm1_ = register_module("norm1", std::make_shared<Fp32LayerNorm>(image_dim, 1e-5, true));
  ff_ = register_module("ff", std::make_shared<FeedForward>(image_dim, image_dim, GeluApproximation::none, dim));
  norm2_ = register_module("norm2", std::make_shared<Fp32LayerNorm>(dim, 1e-5, true));
  if (pos_embed_seq_len > 0) {
    pos_embed_ = register_parameter("pos_embed", constant_parameter({1, pos_embed_seq_len, image_dim}, 0.0));
  }
}

Outputs WanImageEmbedding::forward_impl(Args& args) {
  at::Tensor image = args.tensor("encoder_hidden_states_image");
  TESSERA_CHECK(image.dim() == 3 && image.size(2) == image_dim_, "the image embeddings must be [images, tokens, ",
                image_dim_, "] (the image encoder's width), got ", image.sizes());
  if (pos_embed_.defined()) {
    // The first and last frame of each sample side by side: [2B, L, D] -> [B, 2L, D].
    TESSERA_CHECK(image.size(0) % 2 == 0 && 2 * image.size(1) == pos_embed_.size(1), "a first-and-last-frame model ",
                  "takes two images of ", pos_embed_.size(1) / 2, " tokens per sample ([2 x batch, ",
                  pos_embed_.size(1) / 2, ", ", image_dim_, "]), got ", image.sizes());
    image = image.reshape({-1, pos_embed_.size(1), image_dim_}) + pos_embed_;
  }
  return {norm2_->forward((*ff_)({{"hidden_states", norm1_->forward(image)}}).at(0))};
}

}  // namespace tessera
