// What WanTransformer3DModel hands the step caches: its block stack, TeaCache's modulated-input indicator
// (the first block's own modulation) and the fits of the reference TeaCache4Wan2.1 (ali-vilab/TeaCache),
// MagCache's published Wan2.1 ratios (Zehong-Ma/MagCache) and SeaCache's raw latents.
#include "src/models/wan/wan_transformer.h"

namespace tessera {

std::vector<BlockGroup> WanTransformer3DModel::block_stack() const {
  return {{.pattern = "blocks.*", .streams = {}}};
}

at::Tensor WanTransformer3DModel::modulated_input(Module& first_block, Args& args) const {
  // blocks=<pattern> may select some other module first: it is indicated by its input.
  const auto* block = dynamic_cast<const WanTransformerBlock*>(&first_block);
  return block != nullptr ? block->precompute_attention_input(args) : args.tensor("hidden_states");
}

std::vector<TeaCacheFit> WanTransformer3DModel::teacache_fits() const {
  // The reference's fit for Wan2.1-T2V-1.3B with use_ret_steps, on the timestep embedding (T2V-14B's:
  // -3.03318725e+05, 4.90537029e+04, -2.65530556e+03, 5.87365115e+01, -3.15583525e-01). No reference fit
  // exists for the modulated input: it is not rescaled.
  return {{.name = kModelTeaCacheFit,
           .indicator = TeaCacheIndicator::timestep_embedding,
           .coefficients = {-5.21862437e+04, 9.23041404e+03, -5.28275948e+02, 1.36987616e+01, -4.99875664e-02}}};
}

std::vector<std::pair<std::string, std::vector<double>>> WanTransformer3DModel::magcache_ratios() const {
  // MagCache4Wan2.1/magcache_generate.py's ratios for 50 UniPC steps, measured on the conditional branch (the
  // reference lists both branches interleaved; diffusers' MagCacheConfig takes one list for every context, so
  // these are its even entries). "default" is T2V-1.3B's.
  return {{kModelMagCacheRatios,
           {1.0,     1.0124,  1.00166, 0.99791, 0.99682, 0.99634, 0.99567, 0.99416, 0.99578, 0.9957,  0.99511,
            0.99535, 0.99552, 0.99541, 0.9954,  0.99489, 0.99518, 0.99484, 0.99481, 0.99415, 0.99419, 0.99396,
            0.99388, 0.99349, 0.99309, 0.9927,  0.99228, 0.99171, 0.99137, 0.99068, 0.99005, 0.98944, 0.98849,
            0.98758, 0.98644, 0.98504, 0.9836,  0.98202, 0.97977, 0.97717, 0.9741,  0.97003, 0.96538, 0.9593,
            0.95086, 0.94013, 0.92402, 0.90241, 0.86821, 0.81838}},
          {"wan2.1-t2v-14b",
           {1.0,     1.02504, 1.00025, 0.9985,  0.99779, 0.9966,  0.99482, 0.99467, 0.99664, 0.99434, 0.99533,
            0.99468, 0.99438, 0.99516, 0.99384, 0.99404, 0.99517, 0.99409, 0.99428, 0.99347, 0.99418, 0.99271,
            0.99313, 0.99215, 0.99218, 0.99216, 0.99163, 0.99138, 0.98982, 0.98996, 0.9887,  0.98772, 0.98767,
            0.98573, 0.98501, 0.9838,  0.98177, 0.98037, 0.97678, 0.97546, 0.97184, 0.96711, 0.96349, 0.95629,
            0.94926, 0.93964, 0.92511, 0.90693, 0.8796,  0.86111}}};
}

std::vector<at::Tensor> WanTransformer3DModel::raw_vision(const Args& model_args) const {
  // The latents [B, C, F, H, W] the model is called with, one per sample (diffusers' Wan text-to-video adapter).
  const at::Tensor* latents = model_args.get_if<at::Tensor>("hidden_states");
  if (latents == nullptr || latents->dim() != 5) return {};
  return latents->unbind(0);
}

}  // namespace tessera
