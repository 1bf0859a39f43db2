#include "src/models/wan/wan_condition_embedder.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/embeddings.h"

namespace tessera {
namespace {

// A module that only groups two Linears under diffusers' names ("linear_1", "linear_2").
struct TwoLinears : torch::nn::Module {
  TwoLinears(int64_t in_features, int64_t hidden, int64_t out_features) {
    linear_1 = register_module("linear_1", std::make_shared<Linear>(in_features, hidden));
    linear_2 = register_module("linear_2", std::make_shared<Linear>(hidden, out_features));
  }
  std::shared_ptr<Linear> linear_1, linear_2;
};

}  // namespace

WanConditionEmbedder::WanConditionEmbedder(int64_t dim, int64_t time_freq_dim, int64_t text_embed_dim,
                                           int64_t image_dim, int64_t pos_embed_seq_len)
    : time_freq_dim_(time_freq_dim) {
  auto time_embedder = register_module("time_embedder", std::make_shared<TwoLinears>(time_freq_dim, dim, dim));
  time_linear_1_ = time_embedder->linear_1;
  time_linear_2_ = time_embedder->linear_2;
  time_proj_ = register_module("time_proj", std::make_shared<Linear>(dim, 6 * dim));
  auto text_embedder = register_module("text_embedder", std::make_shared<TwoLinears>(text_embed_dim, dim, dim));
  text_linear_1_ = text_embedder->linear_1;
  text_linear_2_ = text_embedder->linear_2;
  if (image_dim > 0) {
    image_embedder_ =
        register_module("image_embedder", std::make_shared<WanImageEmbedding>(image_dim, dim, pos_embed_seq_len));
  }
}

// One projection for the forward and TextKVCache (the same code, so the same bits).
at::Tensor WanConditionEmbedder::embed_text(const at::Tensor& encoder_hidden_states) const {
  return text_linear_2_->forward(gelu_of_fresh(text_linear_1_->forward(encoder_hidden_states), "tanh"));
}

Args WanConditionEmbedder::text_key_values(const Args& args) const {
  return {{"text_embedding", embed_text(args.tensor("encoder_hidden_states"))}};
}

Outputs WanConditionEmbedder::forward_impl(Args& args) {
  const at::Tensor& encoder_hidden_states = args.tensor("encoder_hidden_states");
  at::Tensor frequencies = timestep_embedding(args.tensor("timestep"), time_freq_dim_, /*flip_sin_to_cos=*/true, 0.0);
  // The time embedder runs in its own dtype (fp32 in diffusers' mixed precision), the result in the text's.
  frequencies = frequencies.to(time_linear_1_->weight().scalar_type());
  const at::Tensor temb =
      time_linear_2_->forward(at::silu(time_linear_1_->forward(frequencies))).to(encoder_hidden_states.scalar_type());
  const at::Tensor timestep_proj = time_proj_->forward(at::silu(temb));
  const at::Tensor* reused = args.get_if<at::Tensor>("text_embedding");  // TextKVCache's, for this prompt
  const at::Tensor text = reused != nullptr ? *reused : embed_text(encoder_hidden_states);
  const at::Tensor* image = args.get_if<at::Tensor>("encoder_hidden_states_image");
  if (image == nullptr) return {temb, timestep_proj, text};
  TESSERA_CHECK(image_embedder_ != nullptr, "encoder_hidden_states_image given to a text-to-video Wan transformer ",
                "(its config has no \"image_dim\"); use an image-to-video checkpoint");
  return {temb, timestep_proj, text,
          (*image_embedder_)({{"encoder_hidden_states_image", image->to(text.scalar_type())}}).at(0)};
}

}  // namespace tessera
