#pragma once
// diffusers' WanImageToVideoPipeline: WanPipeline's text, experts and schedule, with the video conditioned on a
// first frame (and, for first-and-last-frame generation, a last one) twice over:
// - the condition latents, concatenated to the noise on the channels at every step: the frame mask (1 where a
//   frame is given, one channel per frame of a latent frame) and the VAE's latents of the clip that holds the
//   image(s) and black frames between, normalised as the transformer's latents are;
// - for Wan2.1 (a transformer with image_dim), the CLIP image encoder's penultimate hidden states of the image(s),
//   as the extra keys and values of every block's cross-attention.
// Wan2.2 I2V-A14B has no image encoder and two experts; Wan2.2 TI2V (expand_timesteps) is refused before loading.
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>

#include "src/pipelines/wan/wan_pipeline.h"

namespace tessera {

class ClipImageProcessor;
class ClipVisionModel;
class WanVaeDecoder;

class WanImageToVideoPipeline : public WanPipeline {
 public:
  static constexpr const char* kClassName = "WanImageToVideoPipeline";
  WanImageToVideoPipeline();
  ~WanImageToVideoPipeline() override;

  // What a resolved generation is conditioned on, as diffusers computes it (for tests and tools).
  struct ImageCondition {
    at::Tensor condition;         // [1, temporal scale + z_dim, latent frames, h, w] fp32: frame mask, latents
    at::Tensor image_embeddings;  // [images, tokens, image_dim] in the transformer's dtype; undefined without
  };
  ImageCondition image_condition(const Generation& generation) const;

 protected:
  LatentLayout prepare(const PipelineIndex& index) override;
  void check_image_request(const GenerationRequest& request) const override;
  FrameSize default_size(const Generation& generation) const override;
  void check_request(const GenerationRequest& request, const Generation& generation) const override;
  void prepare_inputs(DenoiseInputs& inputs, const Generation& generation, const PromptEmbeddings& text,
                      const at::Tensor& noise) const override;

 private:
  // [1, temporal scale + z_dim, latent frames, h, w]: the frame mask, then the normalised latents of the clip.
  at::Tensor condition(const Generation& generation) const;
  // [images, tokens, image_dim] in the transformer's dtype; undefined for a transformer without image_dim.
  at::Tensor image_embeddings(const Generation& generation) const;

  WanVaeDecoder* vae_ = nullptr;  // decoder_, which also encodes
  // Set when the transformer takes image embeddings (Wan2.1 I2V / FLF2V).
  std::shared_ptr<ClipVisionModel> image_encoder_;
  std::unique_ptr<ClipImageProcessor> image_processor_;
  // The transformer's learned positions for two images (FLF2V): it can take a last image's embeddings.
  bool takes_two_images_ = false;
};

}  // namespace tessera
