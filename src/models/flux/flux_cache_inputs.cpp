// What FluxTransformer2DModel hands TeaCache: the modulated input of its first double-stream block, and
// TeaCache4FLUX's fit on it (ali-vilab/TeaCache, TeaCache4FLUX/teacache_flux.py), named "flux"; MagCache's
// FLUX ratios and SeaCache's raw latents.
#include <ATen/ATen.h>

#include "src/models/flux/flux_transformer.h"

namespace tessera {

at::Tensor FluxTransformer2DModel::modulated_input(Module& first_block, Args& args) const {
  // A single-stream block (blocks=<pattern> starting there) has no norm1: it is indicated by its input.
  const auto* block = dynamic_cast<const FluxTransformerBlock*>(&first_block);
  return block != nullptr ? block->precompute_attention_input(args) : args.tensor("hidden_states");
}

std::vector<TeaCacheFit> FluxTransformer2DModel::teacache_fits() const {
  return {{.name = "flux",
           .indicator = TeaCacheIndicator::modulated_input,
           .coefficients = {4.98651651e+02, -2.83781631e+02, 5.58554382e+01, -3.82021401e+00, 2.64230861e-01}}};
}

std::vector<std::pair<std::string, std::vector<double>>> FluxTransformer2DModel::magcache_ratios() const {
  // diffusers' FLUX_MAG_RATIOS (from Zehong-Ma/MagCache, FLUX.1-dev at 28 steps), as its own default.
  return {{kModelMagCacheRatios,
           {1.0,     1.21094, 1.11719, 1.07812, 1.0625,  1.03906, 1.03125, 1.03906, 1.02344, 1.03125,
            1.02344, 0.98047, 1.01562, 1.00781, 1.0,     1.00781, 1.0,     1.00781, 1.0,     1.0,
            0.99609, 0.99609, 0.98047, 0.98828, 0.96484, 0.95703, 0.93359, 0.89062}}};
}

std::vector<at::Tensor> FluxTransformer2DModel::raw_vision(const Args& model_args) const {
  // The packed tokens [B, (H/2)(W/2), 4C] back to [C, 1, H, W] per sample, the grid read from img_ids (row, column
  // in axes 1 and 2, row-major as FluxPipeline packs them). diffusers has no FLUX adapter: its fixture passes the
  // same unpacking as raw_vision_callback.
  const at::Tensor* tokens = model_args.get_if<at::Tensor>("hidden_states");
  const at::Tensor* ids = model_args.get_if<at::Tensor>("img_ids");
  if (tokens == nullptr || ids == nullptr || tokens->dim() != 3 || ids->dim() != 2 || ids->size(1) < 3 ||
      tokens->size(2) % 4 != 0 || ids->size(0) != tokens->size(1) || ids->size(0) == 0) {
    return {};
  }
  const int64_t rows = ids->select(1, 1).max().item<int64_t>() + 1;
  const int64_t columns = ids->select(1, 2).max().item<int64_t>() + 1;
  if (rows * columns != tokens->size(1)) return {};
  const int64_t batch = tokens->size(0), channels = tokens->size(2) / 4;
  return tokens->reshape({batch, rows, columns, channels, 2, 2})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({batch, channels, 1, rows * 2, columns * 2})
      .unbind(0);
}

}  // namespace tessera
