#include "src/models/flux/flux_time_text_embedding.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/embeddings.h"

namespace tessera {
namespace {

constexpr int64_t kTimestepChannels = 256;  // diffusers' Timesteps(num_channels=256)

// Groups two Linears under diffusers' names ("linear_1", "linear_2").
struct TwoLinears : torch::nn::Module {
  TwoLinears(int64_t in_features, int64_t out_features) {
    linear_1 = register_module("linear_1", std::make_shared<Linear>(in_features, out_features));
    linear_2 = register_module("linear_2", std::make_shared<Linear>(out_features, out_features));
  }
  std::shared_ptr<Linear> linear_1, linear_2;
};

at::Tensor embed_scalar(const at::Tensor& value, Linear& linear_1, Linear& linear_2,
                        c10::ScalarType dtype) {
  const at::Tensor frequencies =
      timestep_embedding(value, kTimestepChannels, /*flip_sin_to_cos=*/true, /*downscale_freq_shift=*/0.0).to(dtype);
  return linear_2.forward(at::silu(linear_1.forward(frequencies)));
}

}  // namespace

FluxTimeTextEmbedding::FluxTimeTextEmbedding(int64_t dim, int64_t pooled_projection_dim, bool guidance_embeds) {
  auto timestep_embedder = register_module("timestep_embedder", std::make_shared<TwoLinears>(kTimestepChannels, dim));
  timestep_linear_1_ = timestep_embedder->linear_1;
  timestep_linear_2_ = timestep_embedder->linear_2;
  if (guidance_embeds) {
    auto guidance_embedder = register_module("guidance_embedder", std::make_shared<TwoLinears>(kTimestepChannels, dim));
    guidance_linear_1_ = guidance_embedder->linear_1;
    guidance_linear_2_ = guidance_embedder->linear_2;
  }
  auto text_embedder = register_module("text_embedder", std::make_shared<TwoLinears>(pooled_projection_dim, dim));
  text_linear_1_ = text_embedder->linear_1;
  text_linear_2_ = text_embedder->linear_2;
}

Outputs FluxTimeTextEmbedding::forward_impl(Args& args) {
  const at::Tensor& pooled = args.tensor("pooled_projections");
  const at::Tensor* guidance = args.get_if<at::Tensor>("guidance");
  TESSERA_CHECK(embeds_guidance() == (guidance != nullptr), "FluxTransformer2DModel ",
                embeds_guidance() ? "was built with guidance_embeds = true (FLUX.1-dev) and needs a 'guidance' [batch] "
                                    "input; add it (e.g. 3.5 per sample)"
                                  : "was built with guidance_embeds = false (FLUX.1-schnell) and takes no 'guidance' "
                                    "input; remove it");
  // The sinusoids are fp32; the embedders run in the model's dtype, which the pooled projections carry.
  at::Tensor temb = embed_scalar(args.tensor("timestep"), *timestep_linear_1_, *timestep_linear_2_, pooled.scalar_type());
  if (guidance != nullptr) {
    temb = temb + embed_scalar(*guidance, *guidance_linear_1_, *guidance_linear_2_, pooled.scalar_type());
  }
  return {temb + text_linear_2_->forward(at::silu(text_linear_1_->forward(pooled)))};
}

}  // namespace tessera
