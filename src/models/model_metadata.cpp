#include "src/models/model_metadata.h"

#include "common/join.h"

#include <algorithm>
#include <sstream>

namespace tessera {
namespace {

std::string_view without_prefix(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix ? text.substr(prefix.size()) : text;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string joined(const std::vector<std::string>& names) { return names.empty() ? "none" : join(names); }

// 1234567 -> "1,234,567": parameter counts are read by people.
std::string with_thousands(int64_t number) {
  std::string digits = std::to_string(number < 0 ? -number : number);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return number < 0 ? "-" + digits : digits;
}

class Table {
 public:
  explicit Table(bool verbose) : verbose_(verbose) {}
  void row(const std::string& name, const std::string& value, const std::string& meaning) {
    out_ << "  " << (value.empty() ? name : pad(name) + " " + value) << "\n";
    if (verbose_ && !meaning.empty()) detail(meaning);
  }
  void detail(const std::string& line) { out_ << "      " << line << "\n"; }
  std::ostringstream& stream() { return out_; }

 private:
  static std::string pad(const std::string& name) {
    return name + std::string(name.size() < 20 ? 20 - name.size() : 0, ' ');
  }

  bool verbose_;
  std::ostringstream out_;
};

}  // namespace

bool ModelMetadata::supports(std::string_view capability) const {
  const std::string_view name = without_prefix(without_prefix(capability, "_"), "supports_");
  if (name == "cache") return capabilities.supports_cache;
  if (name == "cp_plan" || name == "context_parallel") return !capabilities.cp_plan.empty();
  if (name == "no_split_modules") return !capabilities.no_split_modules.empty();
  if (name == "repeated_blocks") return !capabilities.repeated_blocks.empty();
  return false;
}

bool ModelMetadata::supports_dtype(std::string_view dtype) const { return contains(capabilities.dtypes, dtype); }

std::string ModelMetadata::describe(bool verbose) const {
  Table table(verbose);
  table.stream() << class_name << "\n";
  table.row("supports_cache", capabilities.supports_cache ? "yes" : "no",
            "block caches (FirstBlockCache, TeaCache, PAB, FasterCache, TaylorSeer) apply via enable_cache");
  const auto& plan = capabilities.cp_plan;
  table.row("cp_plan", plan.empty() ? "no" : "yes, " + std::to_string(plan.size()) + " entries",
            "context parallelism via enable_parallelism; hooks split and gather where the plan says");
  if (verbose) {
    for (const auto& entry : plan) {
      table.detail("  " + (entry.module_path.empty() ? std::string("(model)") : entry.module_path) + ": " +
                   entry.action);
    }
  }
  table.row("no_split_modules", joined(capabilities.no_split_modules),
            "module classes whose parameters must stay together on one device");
  table.row("repeated_blocks", joined(capabilities.repeated_blocks),
            "module classes repeated along the depth; caches and plans address these");
  table.row("dtypes", joined(capabilities.dtypes), "parameter dtypes the model runs in");
  table.row("inputs", joined(capabilities.inputs), "the forward's arguments, by their diffusers names");
  table.row("parameters", with_thousands(parameter_count), "");
  if (verbose) {
    table.row("config", config.empty() ? "none" : "", "");
    for (const auto& [key, value] : config) table.detail(key + " = " + value);
    table.row("hook_points", std::to_string(hook_points.size()), "dotted paths a hook or a CP plan can target");
    for (const auto& path : hook_points) table.detail("  " + (path.empty() ? std::string("(model)") : path));
  } else {
    std::vector<std::string> pairs;
    for (const auto& [key, value] : config) pairs.push_back(key + "=" + value);
    table.row("config", joined(pairs), "");
  }
  return table.stream().str();
}

}  // namespace tessera
