#pragma once
// What a model hands the step caches beyond its block stack (block_stack.h): the indicator TeaCache reads at
// the first block, computed by the block's own code, and the TeaCache fits (calibration data) the model
// carries. cache/ asks through this interface only, so it never learns a model's parameter names or numbers.
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "hooks/args.h"
#include "hooks/magcache_ratios.h"
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
  // MagCache's magnitude ratios the model carries, by name (one list per step of the schedule they were
  // calibrated on); none by default.
  virtual std::vector<std::pair<std::string, std::vector<double>>> magcache_ratios() const { return {}; }
  // SeaCache's raw latents of one model call (its whole arguments, before any context-parallel split): one
  // [channels, frames, height, width] tensor per sample of the batch; none (the default) when the model cannot
  // say, and SeaCache refuses it.
  virtual std::vector<at::Tensor> raw_vision(const Args& /*model_args*/) const { return {}; }
};

}  // namespace tessera
