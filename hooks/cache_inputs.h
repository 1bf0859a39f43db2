#pragma once
// What a model hands the step caches beyond its block stack (block_stack.h): the indicator TeaCache reads at
// the first block, computed by the block's own code, and the TeaCache fits (calibration data) the model
// carries. cache/ asks through this interface only, so it never learns a model's parameter names or numbers.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "hooks/args.h"

namespace tessera {

class Module;

// What TeaCache measures the change of, at the first block of the stack.
enum class TeaCacheIndicator {
  // The first block's `temb` argument (the projected timestep embedding). It depends on the timestep only, so
  // the skip pattern is fixed per schedule.
  timestep_embedding,
  // norm1(x) * (1 + scale) + shift, the first self-attention's input: the paper's indicator. Computed by the
  // model (DeclaresCacheInputs::modulated_input); a model that declares none is indicated by the block's input.
  modulated_input,
};

// The name of the fit a model carries as its own for an indicator, the one a TeaCache config asks for unless
// told otherwise.
inline constexpr const char* kModelTeaCacheFit = "default";

// A fitted rescaling polynomial (numpy.poly1d order, highest power first), valid for one indicator.
struct TeaCacheFit {
  std::string name;
  TeaCacheIndicator indicator = TeaCacheIndicator::timestep_embedding;
  std::vector<double> coefficients;
};

class DeclaresCacheInputs {
 public:
  virtual ~DeclaresCacheInputs() = default;
  // The modulated input of `first_block` (a block of the model's stack) called with `args`, computed as the
  // block computes it; a block the model does not know how to modulate returns its hidden_states.
  virtual at::Tensor modulated_input(Module& first_block, const Args& args) const = 0;
  // The fits the model carries; a (name, indicator) pair appears at most once.
  virtual std::vector<TeaCacheFit> teacache_fits() const = 0;
};

}  // namespace tessera
