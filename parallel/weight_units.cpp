#include "parallel/weight_units.h"

#include <set>

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
  std::vector<WeightUnit> units(1);
  std::set<std::string> in_blocks;
  if (const auto* stack = dynamic_cast<const DeclaresBlockStack*>(&model)) {
    for (const BlockGroup& group : stack->block_stack()) {
      for (const NamedModule& block : model.find_all(group.pattern)) {
        WeightUnit unit{.name = block.path, .parameters = {}};
        for (const auto& item : block.module->named_parameters(/*recurse=*/true)) {
          if (!item.value().defined()) continue;
          std::string name = detail::concat(block.path, ".", item.key());
          in_blocks.insert(name);
          unit.parameters.push_back(unit_parameter(std::move(name), item.value()));
        }
        units.push_back(std::move(unit));
      }
    }
  }
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.value().defined() && in_blocks.count(item.key()) == 0) {
      units.front().parameters.push_back(unit_parameter(item.key(), item.value()));
    }
  }
  return units;
}

}  // namespace tessera
