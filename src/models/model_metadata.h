#pragma once
// What a model supports, declared once on the model class: what `tessera describe` prints, and what a program asks
// of a model by name before it enables a feature.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera {

// One entry of a context-parallel plan, as text until the plan types of parallel/ carry it.
struct CpPlanEntry {
  std::string module_path;  // "" is the model itself
  std::string action;       // "split hidden_states along dim 1", "gather output 0 along dim 1"
};

// The part a model class declares (the same for every instance of the class).
struct ModelCapabilities {
  bool supports_cache = false;                  // block caches (FirstBlockCache, TeaCache, ...) apply
  std::vector<CpPlanEntry> cp_plan;             // empty: no context parallelism
  std::vector<std::string> no_split_modules;    // classes whose parameters must stay on one device
  std::vector<std::string> repeated_blocks;     // classes repeated along the depth; caches hook these
  std::vector<std::string> dtypes;              // "float32", "bfloat16", ...
  std::vector<std::string> inputs;              // the forward's arguments by their diffusers names
};

struct ModelMetadata {
  std::string class_name;
  ModelCapabilities capabilities;
  int64_t parameter_count = 0;
  std::vector<std::pair<std::string, std::string>> config;  // key -> value as text, in config order
  std::vector<std::string> hook_points;                      // dotted paths of hookable modules; "" = model

  // A yes/no capability by name: "cache", "cp_plan" (or "context_parallel"), "no_split_modules",
  // "repeated_blocks", also spelled "supports_cache" or "_supports_cache". Any other name is false.
  bool supports(std::string_view capability) const;
  bool supports_dtype(std::string_view dtype) const;

  // A table, one capability a line; `verbose` adds what each row means, the CP plan entries, every config
  // entry and the hook points.
  std::string describe(bool verbose = false) const;
};

}  // namespace tessera
