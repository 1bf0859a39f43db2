#pragma once
// diffusers' WanPipeline: UMT5, WanTransformer3DModel, UniPC or flow-matching Euler, the Wan VAE, classifier-free
// guidance. Wan2.1 denoises with one transformer; Wan2.2 A14B with two experts, `transformer` for the high-noise
// steps (timestep >= boundary_ratio * num_train_timesteps, with guidance_scale) and `transformer_2` for the rest
// (with guidance_scale_2). Wan2.2 TI2V (expand_timesteps in model_index.json) gives the transformer a timestep per
// token (patch), all equal in text-to-video.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/pipelines/pipeline.h"

namespace tessera {

class Args;

class WanPipeline : public Pipeline {
 public:
  static constexpr const char* kClassName = "WanPipeline";

 protected:
  void check_index(const PipelineIndex& index) const override;
  std::string transformer_class() const override;
  std::vector<std::string> transformer_parts(const PipelineIndex& index) const override;
  bool switches_experts(const PipelineIndex& index) const override;
  LatentLayout prepare(const PipelineIndex& index) override;
  void check_request(const GenerationRequest& request, const Generation& generation) const override;
  StepModel step_model(const Generation& generation, double timestep) const override;
  void prepare_inputs(DenoiseInputs& inputs, const Generation& generation, const PromptEmbeddings& text,
                      const at::Tensor& noise) const override;

  // The layout of a Wan transformer whose input has `extra_channels` channels beyond the latents (a family built
  // on Wan that appends its own inputs to the latents). Every expert must take the same layout.
  LatentLayout wan_layout(const PipelineIndex& index, int64_t extra_channels, const std::string& extra_what);

  // Whether model_index.json sets expand_timesteps (Wan2.2 TI2V): known once the folder is read.
  static bool expands_timesteps(const PipelineIndex& index);
  // The transformer's timestep input at step `timestep` for latents [B, C, F, h, w]: [B], or with
  // expand_timesteps [B, tokens], one per patch in the transformer's order, 0 on the first latent frame when it
  // is `first_frame_held` (the image-to-video TI2V's given frame), as diffusers builds it from its frame mask.
  at::Tensor transformer_timesteps(const at::Tensor& latents, double timestep, bool first_frame_held) const;
  // The transformer's named inputs at step `timestep`: `hidden_states` (the latents, with whatever a family joins
  // to them), the timestep input transformer_timesteps gives for `latents`, and the text.
  Args transformer_args(const at::Tensor& hidden_states, const at::Tensor& latents, double timestep,
                        const at::Tensor& text, bool first_frame_held) const;
  bool expand_timesteps_ = false;

 private:
  // Whether the step at `timestep` is the high-noise expert's ("transformer", at or above the boundary) rather
  // than the low-noise one's ("transformer_2").
  bool high_noise(double timestep) const;

  // boundary_ratio * num_train_timesteps, in float32 as diffusers compares it with the step's timestep; unset
  // without a boundary_ratio (one transformer for every step).
  std::optional<float> boundary_timestep_;
  double boundary_ratio_ = 0;
};

}  // namespace tessera
