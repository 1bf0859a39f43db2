#pragma once
// A context-parallel plan: data, declared on the model, saying where the sequence is split across the
// context-parallel ranks and where it is gathered back (diffusers' _cp_plan). enable_parallelism turns it
// into hooks. A tensor whose rank differs from expected_dims is left alone, as in diffusers.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct ContextParallelInput {
  int64_t split_dim = 1;
  int64_t expected_dims = 3;
};

struct ContextParallelOutput {
  int64_t gather_dim = 1;
  int64_t expected_dims = 3;
};

// What happens at one module (or every module a "*" path matches).
struct ContextParallelModulePlan {
  std::vector<std::pair<std::string, ContextParallelInput>> split_inputs;  // by argument name
  std::vector<std::pair<int, ContextParallelInput>> split_outputs;         // by output index
  std::vector<std::pair<int, ContextParallelOutput>> gather_outputs;       // by output index
};

// Module path ("" = the model itself, "*" matches one path segment) -> what to do there.
using ContextParallelPlan = std::vector<std::pair<std::string, ContextParallelModulePlan>>;

// One line per action, e.g. "rope: split output 0 along dim 1 (4-D)".
std::vector<std::pair<std::string, std::string>> describe_plan(const ContextParallelPlan& plan);

}  // namespace tessera
