#pragma once
// What a model hands the step caches beyond its block stack (block_stack.h): the indicator TeaCache reads at
// the first block, computed by the block's own code, and the TeaCache fits (calibration data) the model
// carries. cache/ asks through this interface only, so it never learns a model's parameter names or numbers.
#include <ATen/core/Tensor.h>

#include <vector>

#include "hooks/args.h"
#include "hooks/teacache_fit.h"

namespace tessera {

class Module;

class DeclaresCacheInputs {
 public:
  virtual ~DeclaresCacheInputs() = default;
  // The modulated input of `first_block` (a block of the model's stack) called with `args`, computed by the
  // block's own code as its forward computes it, and left in `args` so that the block's forward, if this call
  // runs it, does not compute it again. A block the model does not know how to modulate returns its
  // hidden_states.
  virtual at::Tensor modulated_input(Module& first_block, Args& args) const = 0;
  // The fits the model carries; a (name, indicator) pair appears at most once.
  virtual std::vector<TeaCacheFit> teacache_fits() const = 0;
};

}  // namespace tessera
