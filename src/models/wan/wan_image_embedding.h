#pragma once
#include <cstdint>
#include <memory>

#include "hooks/module.h"
#include "src/models/layers.h"

namespace tessera {

// diffusers' WanImageEmbedding ("condition_embedder.image_embedder"): the image encoder's embeddings through
// norm1 (fp32 LayerNorm), a feed-forward (exact GELU) to the model's width, and norm2. With a position embedding
// (FLF2V, pos_embed_seq_len), the embeddings come two images per sample, [2B, L, image_dim]; each sample's first
// and last frame are joined into one sequence [B, 2L, image_dim] before the embedding is added.
// Argument: encoder_hidden_states_image. Output 0: [B, L (or 2L), dim].
class WanImageEmbedding : public Module {
 public:
  WanImageEmbedding(int64_t image_dim, int64_t dim, int64_t pos_embed_seq_len);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  int64_t image_dim_;
  std::shared_ptr<Fp32LayerNorm> norm1_, norm2_;
  std::shared_ptr<FeedForward> ff_;
  at::Tensor pos_embed_;  // [1, pos_embed_seq_len, image_dim]; undefined without
};

}  // namespace tessera
