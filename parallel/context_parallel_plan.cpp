#include "parallel/context_parallel_plan.h"

#include "common/check.h"

namespace tessera {

std::vector<std::pair<std::string, std::string>> describe_plan(const ContextParallelPlan& plan) {
  std::vector<std::pair<std::string, std::string>> lines;
  for (const auto& [path, module_plan] : plan) {
    for (const auto& [name, input] : module_plan.split_inputs) {
      lines.emplace_back(path, detail::concat("split input ", name, " along dim ", input.split_dim, " (",
                                              input.expected_dims, "-D)"));
    }
    for (const auto& [index, input] : module_plan.split_outputs) {
      lines.emplace_back(path, detail::concat("split output ", index, " along dim ", input.split_dim, " (",
                                              input.expected_dims, "-D)"));
    }
    for (const auto& [index, output] : module_plan.gather_outputs) {
      lines.emplace_back(path, detail::concat("gather output ", index, " along dim ", output.gather_dim, " (",
                                              output.expected_dims, "-D)"));
    }
  }
  return lines;
}

}  // namespace tessera
