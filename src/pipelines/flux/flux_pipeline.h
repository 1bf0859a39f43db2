#pragma once
// diffusers' FluxPipeline (FLUX.1 dev and schnell, text-to-image): CLIP pooled + T5 tokens, FluxTransformer2DModel
// on 2x2-packed latents, flow-matching Euler with the resolution-dependent shift, AutoencoderKL. Guidance-distilled:
// one forward per step, the guidance scale an input of the model (dev) or unused (schnell); a still is a clip of
// one frame.
#include <string>

#include "src/pipelines/pipeline.h"

namespace tessera {

class FluxPipeline : public Pipeline {
 public:
  static constexpr const char* kClassName = "FluxPipeline";

 protected:
  GenerationDefaults family_defaults() const override;
  std::string transformer_class() const override;
  void check_scheduler(const PipelineIndex& index) const override;
  LatentLayout prepare(const PipelineIndex& index) override;
  void check_request(const GenerationRequest& request, const Generation& generation) const override;
  double loop_guidance_scale(const Generation& generation) const override;
  void check_loop(const DenoiseOptions& loop) const override;
  void prepare_inputs(DenoiseInputs& inputs, const Generation& generation, const PromptEmbeddings& text,
                      const at::Tensor& noise) const override;

 private:
  bool guidance_embeds_ = false;  // FLUX.1-dev takes the guidance scale as an input; schnell has no such input
};

}  // namespace tessera
