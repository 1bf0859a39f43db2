#pragma once
// The units a sharded model's weights are gathered in: one per block of its declared stack (hooks/block_stack.h),
// in call order, after one for every parameter outside the blocks (embedders, norm_out, proj_out), which the whole
// forward needs. A model that declares no stack is one unit.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace tessera {

class Module;

struct UnitParameter {
  std::string name;           // dotted, from the model ("blocks.3.attn1.to_q.weight")
  at::Tensor handle;          // the module's parameter: its data is swapped, its identity kept
  c10::ScalarType dtype;      // the dtype it runs in (a loader sets the one its dtype rule gives)
  std::vector<int64_t> shape;
};

struct WeightUnit {
  std::string name;  // "" for the parameters outside the blocks, else the block's path
  std::vector<UnitParameter> parameters;
};

// Unit 0 holds the parameters outside the blocks; units 1.. the blocks in call order. Undefined parameters (a bias
// built without) are left out.
std::vector<WeightUnit> weight_units(Module& model);
// The same for a model whose forward says itself which units it runs (the text encoders): unit i + 1 holds the
// parameters under `unit_paths[i]` (dotted submodule paths, in the order the forward runs them), unit 0 every
// parameter no path covers (empty when they cover all).
std::vector<WeightUnit> weight_units(torch::nn::Module& model, const std::vector<std::string>& unit_paths);

}  // namespace tessera
