// What FluxTransformer2DModel hands TeaCache: the modulated input of its first double-stream block, and
// TeaCache4FLUX's fit on it (ali-vilab/TeaCache, TeaCache4FLUX/teacache_flux.py), named "flux".
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

}  // namespace tessera
