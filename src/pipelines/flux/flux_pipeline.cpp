#include "src/pipelines/flux/flux_pipeline.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "parallel/communicator.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/latent_decoder.h"
#include "src/models/text_encoder.h"
#include "src/pipelines/flux/flux_inputs.h"
#include "src/pipelines/pipeline_index.h"
#include "src/schedulers/flow_match_euler_discrete.h"

namespace tessera {

// FluxPipeline.__call__'s defaults: default_sample_size 128 latent cells of 8 pixels, 28 steps, guidance 3.5.
GenerationDefaults FluxPipeline::family_defaults() const {
  return {.height = 1024, .width = 1024, .frames = 1, .steps = 28, .guidance_scale = 3.5, .negative_prompt = ""};
}

std::string FluxPipeline::transformer_class() const { return FluxTransformer2DModel::kClassName; }

void FluxPipeline::check_scheduler(const PipelineIndex& index) const {
  TESSERA_CHECK(dynamic_cast<FlowMatchEulerDiscreteScheduler*>(scheduler_.get()) != nullptr, index.dir,
                "/scheduler holds a ", scheduler_->class_name(), "; ", kClassName,
                " steps with FlowMatchEulerDiscreteScheduler");
}

// FluxPipeline packs 2x2 latent cells into one token itself, so the transformer takes 4 channels per latent
// channel with patch_size 1, and sizes are multiples of twice the decoder's scale.
Pipeline::LatentLayout FluxPipeline::prepare(const PipelineIndex& index) {
  auto* flux = dynamic_cast<FluxTransformer2DModel*>(transformer_.get());
  TESSERA_INTERNAL_ASSERT(flux != nullptr, "the transformer folder's class was checked");
  const auto& config = flux->config();
  TESSERA_CHECK(config.patch_size == 1 && config.in_channels == 4 * decoder_->latent_channels() &&
                    config.output_channels() == config.in_channels,
                "the transformer in ", index.part_dir("transformer"), " takes ", config.in_channels,
                " channels with patch_size ", config.patch_size, " and gives ", config.output_channels(),
                "; FluxPipeline packs 2x2 cells of the decoder's ", decoder_->latent_channels(),
                " latent channels, so it needs ", 4 * decoder_->latent_channels(), " in and out with patch_size 1");
  guidance_embeds_ = config.guidance_embeds;
  return {.channels = decoder_->latent_channels(), .size_multiple = decoder_->spatial_scale() * 2};
}

void FluxPipeline::check_request(const GenerationRequest& request, const Generation& generation) const {
  TESSERA_CHECK(generation.frames == 1, "--frames ", generation.frames, ": ", class_name_,
                " makes still images; leave --frames out or give 1");
  // FluxPipeline's negative prompt only steers its optional "true CFG", which tessera does not run.
  TESSERA_CHECK(!request.negative_prompt || request.negative_prompt->empty(), class_name_, " takes no negative ",
                "prompt: FLUX.1 is guidance-distilled and --guidance-scale is an input of the model");
}

// FLUX takes the guidance scale as a model input (or, schnell, not at all): one forward per step.
double FluxPipeline::loop_guidance_scale(const Generation& /*generation*/) const { return 1.0; }

void FluxPipeline::check_loop(const DenoiseOptions& loop) const {
  TESSERA_CHECK(loop.cfg_group == nullptr || loop.cfg_group->size() == 1, class_name_, " runs one ",
                "forward per step (FLUX.1 is guidance-distilled), so there are no guidance branches for --cfg 2 to ",
                "split; use --ulysses or --ring for its ranks");
}

void FluxPipeline::prepare_inputs(DenoiseInputs& inputs, const Generation& generation, const PromptEmbeddings& text,
                                  const at::Tensor& noise) const {
  const auto& schedule = dynamic_cast<FlowMatchEulerDiscreteScheduler&>(*scheduler_).config();
  inputs.sigmas = flux_sigmas(generation.steps);
  inputs.mu = resolution_shift(noise.size(3) / 2 * (noise.size(4) / 2), schedule);
  inputs.predict = flux_predict({.pooled = text.pooled.slice(0, 0, 1).to(dtype_),
                                 .guidance = guidance_embeds_ ? std::optional<double>(generation.guidance_scale)
                                                              : std::nullopt});
}

}  // namespace tessera
