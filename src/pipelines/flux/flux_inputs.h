#pragma once
// How FluxPipeline feeds FluxTransformer2DModel, in C++: latents packed into 2x2 patches (one token each), the
// patches' position ids (row, column), zero ids for the text tokens, the timestep in [0, 1], the CLIP pooled
// text and, for guidance-distilled checkpoints (FLUX.1-dev), the guidance scale as an input. The sigma schedule
// and its resolution-dependent shift `mu` are FluxPipeline's too.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "src/pipelines/denoise_loop.h"

namespace tessera {

struct FlowMatchEulerDiscreteConfig;

// [B, C, 1, h, w] -> [B, (h/2)(w/2), 4C] (FluxPipeline._pack_latents); h and w must be even.
at::Tensor pack_latents(const at::Tensor& latents);
// The inverse: [B, (h/2)(w/2), 4C] -> [B, C, 1, h, w].
at::Tensor unpack_latents(const at::Tensor& packed, int64_t height, int64_t width);
// [(h/2)(w/2), 3] float32: (0, row, column) of each patch (FluxPipeline._prepare_latent_image_ids).
at::Tensor latent_image_ids(int64_t height, int64_t width);

// FluxPipeline's schedule: numpy.linspace(1, 1/steps, steps).
std::vector<double> flux_sigmas(int steps);
// calculate_shift: mu grows linearly with the image's token count, from base_shift at base_image_seq_len to
// max_shift at max_image_seq_len (the scheduler config's values).
double resolution_shift(int64_t image_tokens, const FlowMatchEulerDiscreteConfig& config);

struct FluxConditioning {
  at::Tensor pooled;                // [1, pooled dim] in the model's dtype (CLIP's pooled output)
  std::optional<double> guidance;   // set for guidance-distilled checkpoints (guidance_embeds)
};
// The loop's prediction through FLUX: pack, run with ids, pooled text, timestep / 1000 and guidance, unpack.
PredictFunction flux_predict(FluxConditioning conditioning);

}  // namespace tessera
