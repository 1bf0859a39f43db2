#pragma once
// A cacheable model with no collective inside it: each block acts on every position alone, so context
// parallelism only splits its input and gathers its output. Ranks whose caches decide differently still meet
// in the same collectives, and a test sees their disagreement instead of hanging in it. It is a HookableModel
// and nothing from src/, which is all a cache needs to know of a model.
#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include <memory>
#include <string>

#include "hooks/block_stack.h"
#include "hooks/hookable_model.h"
#include "parallel/context_parallel_plan.h"

namespace tessera::testing {

// Stands in for self-attention (FasterCache and PAB hook modules of this role named attn1).
class ToyAttention : public Module {
 public:
  explicit ToyAttention(double gain) : gain_(gain) {}
  ModuleRole role() const override { return ModuleRole::self_attention; }

 protected:
  Outputs forward_impl(Args& args) override { return {at::tanh(args.tensor("hidden_states") * gain_)}; }

 private:
  double gain_;
};

class ToyBlock : public Module {
 public:
  explicit ToyBlock(double gain) : attention_(register_module("attn1", std::make_shared<ToyAttention>(gain))) {}

 protected:
  Outputs forward_impl(Args& args) override {
    const at::Tensor& x = args.tensor("hidden_states");
    return {x + 0.5 * (*attention_)({{"hidden_states", x}}).at(0)};
  }

 private:
  std::shared_ptr<ToyAttention> attention_;
};

// hidden_states [B, C, H, W] -> the same shape, through `blocks` ToyBlocks ("blocks.0", ...).
class ToyCacheModel : public HookableModel, public DeclaresBlockStack {
 public:
  explicit ToyCacheModel(int blocks) {
    auto list = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < blocks; ++i) {
      blocks_.push_back(std::make_shared<ToyBlock>(0.5 + 0.25 * i));
      list->push_back(blocks_.back());
    }
  }
  std::string class_name() const override { return "ToyCacheModel"; }
  bool supports_cache() const override { return true; }
  std::vector<BlockGroup> block_stack() const override { return {{.pattern = "blocks.*", .streams = {}}}; }

  // The rows (dim 2) are split at the model's input and gathered at its output.
  static ContextParallelPlan plan() {
    return {{"",
             {.split_inputs = {{"hidden_states", {.split_dim = 2, .expected_dims = 4}}},
              .split_outputs = {},
              .gather_outputs = {{0, {.gather_dim = 2, .expected_dims = 4}}}}}};
  }

 protected:
  Outputs forward_impl(Args& args) override {
    at::Tensor x = args.tensor("hidden_states");
    for (const auto& block : blocks_) x = (*block)({{"hidden_states", x}}).at(0);
    return {x};
  }

 private:
  std::vector<std::shared_ptr<ToyBlock>> blocks_;
};

}  // namespace tessera::testing
