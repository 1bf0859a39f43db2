#include "src/models/lora/lora_check.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <map>

#include "common/check.h"
#include "common/join.h"
#include "hooks/module.h"
#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"

namespace tessera::lora {
namespace {

constexpr size_t kListed = 12;

std::string shape_text(c10::IntArrayRef sizes) { return detail::concat("[", join(sizes, ", "), "]"); }

}  // namespace

std::vector<CheckedLayer> check_loras(torch::nn::Module& model, const std::vector<ScaledLora>& loras,
                                      const std::string& model_name) {
  // The weights' whole shapes: a sharded model's parameters hold empty tensors between gathers (--shard-weights).
  std::map<std::string, std::vector<int64_t>> sizes_of;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.value().defined()) sizes_of.emplace(item.key(), item.value().sizes().vec());
  }
  auto* hookable = dynamic_cast<Module*>(&model);
  if (const auto sharded = hookable != nullptr ? sharded_weights_of(*hookable) : nullptr) {
    for (auto& [name, shape] : sharded->parameter_shapes()) sizes_of[name] = std::move(shape);
  }
  std::vector<CheckedLayer> checked;
  std::vector<std::string> problems;
  for (const auto& lora : loras) {
    std::vector<std::string> unmatched, misshapen;
    for (const auto& layer : lora.file.layers) {
      std::vector<c10::IntArrayRef> weights;
      bool matched = true;
      for (const auto& target : layer.targets) {
        const auto found = sizes_of.find(target + ".weight");
        matched = matched && found != sizes_of.end() && found->second.size() == 2;
        if (matched) weights.emplace_back(found->second);
      }
      if (!matched) {
        unmatched.push_back(detail::concat(layer.module, " (", layer.source, ")"));
        continue;
      }
      CheckedLayer entry{.layer = &layer, .scale = lora.scale, .targets = {}};
      int64_t rows = 0;
      bool columns_fit = true;
      std::vector<std::string> shapes;
      for (size_t i = 0; i < weights.size(); ++i) {
        entry.targets.push_back({.module = layer.targets[i], .row = rows, .rows = weights[i][0]});
        rows += weights[i][0];
        columns_fit = columns_fit && weights[i][1] == layer.down.size(1);
        shapes.push_back(shape_text(weights[i]));
      }
      if (layer.up.size(0) != rows || !columns_fit) {
        misshapen.push_back(detail::concat(layer.module, ": lora_B ", shape_text(layer.up.sizes()), " @ lora_A ",
                                           shape_text(layer.down.sizes()), " is [", layer.up.size(0), ", ",
                                           layer.down.size(1), "] but the weight",
                                           weights.size() > 1 ? "s are " : " is ", join(shapes, " + ")));
        continue;
      }
      checked.push_back(std::move(entry));
    }
    const size_t total = lora.file.layers.size();
    if (!unmatched.empty()) {
      const bool none = unmatched.size() == total;
      const std::string count = none ? std::string("none") : std::to_string(unmatched.size());
      problems.push_back(detail::concat(lora.file.path, ": ", count, " of its ", total, " module(s) match ",
                                        none ? "a" : "no", " linear layer of the ", model_name, ": ",
                                        join_first(unmatched, kListed)));
    }
    if (!misshapen.empty()) {
      problems.push_back(detail::concat(lora.file.path, ": ", misshapen.size(), " module(s) have the wrong shape: ",
                                        join_first(misshapen, kListed, "; ")));
    }
  }
  TESSERA_CHECK(problems.empty(), "the LoRA(s) do not fit this ", model_name, ", nothing was applied. ",
                join(problems, ". "), ". Is each LoRA made for this model (family and size)?");
  return checked;
}

}  // namespace tessera::lora
