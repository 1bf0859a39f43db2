#include "src/pipelines/flux/flux_inputs.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/model.h"
#include "src/schedulers/flow_match_euler_discrete.h"
#include "src/schedulers/sigma_schedule.h"

namespace tessera {

at::Tensor pack_latents(const at::Tensor& latents) {
  TESSERA_CHECK(latents.dim() == 5 && latents.size(2) == 1 && latents.size(3) % 2 == 0 && latents.size(4) % 2 == 0,
                "FLUX packs latents [batch, channels, 1, height, width] with even height and width, got ",
                latents.sizes());
  const int64_t batch = latents.size(0), channels = latents.size(1);
  const int64_t height = latents.size(3), width = latents.size(4);
  return latents.view({batch, channels, height / 2, 2, width / 2, 2})
      .permute({0, 2, 4, 1, 3, 5})
      .reshape({batch, (height / 2) * (width / 2), channels * 4});
}

at::Tensor unpack_latents(const at::Tensor& packed, int64_t height, int64_t width) {
  TESSERA_INTERNAL_ASSERT(packed.dim() == 3 && packed.size(1) == (height / 2) * (width / 2) && packed.size(2) % 4 == 0,
                          "packed latents ", packed.sizes(), " for a latent grid of ", height, "x", width);
  const int64_t batch = packed.size(0), channels = packed.size(2) / 4;
  return packed.reshape({batch, height / 2, width / 2, channels, 2, 2})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({batch, channels, 1, height, width});
}

at::Tensor latent_image_ids(int64_t height, int64_t width) {
  const int64_t rows = height / 2, columns = width / 2;
  const at::Tensor row = at::arange(rows, at::kFloat).view({rows, 1}).expand({rows, columns});
  const at::Tensor column = at::arange(columns, at::kFloat).view({1, columns}).expand({rows, columns});
  return at::stack({at::zeros({rows, columns}, at::kFloat), row, column}, -1).reshape({rows * columns, 3});
}

std::vector<double> flux_sigmas(int steps) { return numpy_linspace(1.0, 1.0 / steps, steps); }

double resolution_shift(int64_t image_tokens, const FlowMatchEulerDiscreteConfig& config) {
  const double base_shift = config.base_shift.value_or(0.5), max_shift = config.max_shift.value_or(1.15);
  const double slope = (max_shift - base_shift) / (config.max_image_seq_len - config.base_image_seq_len);
  const double intercept = base_shift - slope * config.base_image_seq_len;
  return static_cast<double>(image_tokens) * slope + intercept;
}

PredictFunction flux_predict(FluxConditioning conditioning) {
  return [conditioning = std::move(conditioning)](Model& model, const at::Tensor& latents, double timestep,
                                                  const at::Tensor& text) {
    const int64_t batch = latents.size(0), height = latents.size(3), width = latents.size(4);
    TESSERA_CHECK(batch == conditioning.pooled.size(0), "FLUX runs one guidance branch per forward (batch ",
                  conditioning.pooled.size(0), "), got a batch of ", batch);
    const auto options = latents.options();
    // As FluxPipeline: the float32 timestep in the latents' dtype, divided by 1000 there.
    const at::Tensor timesteps = at::full({batch}, timestep, options.dtype(at::kFloat)).to(latents.scalar_type()) / 1000;
    Args args{{"hidden_states", pack_latents(latents)},
              {"encoder_hidden_states", text},
              {"pooled_projections", conditioning.pooled},
              {"timestep", timesteps},
              {"img_ids", latent_image_ids(height, width).to(options)},
              {"txt_ids", at::zeros({text.size(1), 3}, options)}};
    if (conditioning.guidance) args.set("guidance", at::full({batch}, *conditioning.guidance, options.dtype(at::kFloat)));
    return unpack_latents(model(std::move(args)).at(0), height, width);
  };
}

}  // namespace tessera
