#include "src/models/lora/lora_check.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <algorithm>

#include "common/check.h"
#include "common/join.h"

namespace tessera::lora {
namespace {

constexpr size_t kListed = 12;

std::string shape_text(c10::IntArrayRef sizes) { return detail::concat("[", join(sizes, ", "), "]"); }

}  // namespace

std::vector<CheckedLayer> check_loras(torch::nn::Module& model, const std::vector<ScaledLora>& loras,
                                      const std::string& model_name) {
  const auto parameters = model.named_parameters(/*recurse=*/true);
  std::vector<CheckedLayer> checked;
  std::vector<std::string> problems;
  for (const auto& lora : loras) {
    std::vector<std::string> unmatched, misshapen;
    for (const auto& layer : lora.file.layers) {
      std::vector<const at::Tensor*> weights;
      for (const auto& target : layer.targets) weights.push_back(parameters.find(target + ".weight"));
      const auto missing = [](const at::Tensor* weight) { return weight == nullptr || weight->dim() != 2; };
      if (std::any_of(weights.begin(), weights.end(), missing)) {
        unmatched.push_back(detail::concat(layer.module, " (", layer.source, ")"));
        continue;
      }
      CheckedLayer entry{.layer = &layer, .scale = lora.scale, .targets = {}};
      int64_t rows = 0;
      bool columns_fit = true;
      std::vector<std::string> shapes;
      for (size_t i = 0; i < weights.size(); ++i) {
        entry.targets.push_back({.module = layer.targets[i], .row = rows, .rows = weights[i]->size(0)});
        rows += weights[i]->size(0);
        columns_fit = columns_fit && weights[i]->size(1) == layer.down.size(1);
        shapes.push_back(shape_text(weights[i]->sizes()));
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
