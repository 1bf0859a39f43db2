#include "parallel/weight_units.h"

#include <map>

#include "common/check.h"
#include "hooks/block_stack.h"
#include "hooks/module.h"

namespace tessera {
namespace {

UnitParameter unit_parameter(std::string name, const at::Tensor& tensor) {
  return {.name = std::move(name), .handle = tensor, .dtype = tensor.scalar_type(),
          .shape = std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end())};
}

}  // namespace

std::vector<WeightUnit> weight_units(Module& model) {
  std::vector<std::string> block_paths;
  if (const auto* stack = dynamic_cast<const DeclaresBlockStack*>(&model)) {
    for (const BlockGroup& group : stack->block_stack()) {
      for (const NamedModule& block : model.find_all(group.pattern)) block_paths.push_back(block.path);
    }
  }
  return weight_units(static_cast<torch::nn::Module&>(model), block_paths);
}

std::vector<WeightUnit> weight_units(torch::nn::Module& model, const std::vector<std::string>& unit_paths) {
  std::vector<WeightUnit> units(1);
  std::map<std::string, size_t> unit_of_path;
  for (const std::string& path : unit_paths) {
    TESSERA_INTERNAL_ASSERT(unit_of_path.emplace(path, units.size()).second, "weight unit ", path, " named twice");
    units.push_back({.name = path, .parameters = {}});
  }
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (!item.value().defined()) continue;
    // The unit whose path is the longest dotted prefix of the name; unit 0 when none is.
    size_t unit = 0;
    for (size_t end = item.key().rfind('.'); end != std::string::npos && end > 0;
         end = item.key().rfind('.', end - 1)) {
      const auto found = unit_of_path.find(item.key().substr(0, end));
      if (found != unit_of_path.end()) {
        unit = found->second;
        break;
      }
    }
    units[unit].parameters.push_back(unit_parameter(item.key(), item.value()));
  }
  for (size_t unit = 1; unit < units.size(); ++unit) {
    TESSERA_INTERNAL_ASSERT(!units[unit].parameters.empty(), "weight unit ", units[unit].name,
                            " names no parameter of the model");
  }
  return units;
}

}  // namespace tessera
