// What WanTransformer3DModel hands the step caches: its block stack, TeaCache's modulated-input indicator
// (the first block's own modulation) and the fits of the reference TeaCache4Wan2.1 (ali-vilab/TeaCache).
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

}  // namespace tessera
