#include "hooks/module.h"

#include "common/join.h"
#include "common/check.h"
#include "hooks/hook_registry.h"

namespace tessera {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty()) return segments;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    segments.push_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return segments;
}

std::string child_names(const torch::nn::Module& module) {
  const auto children = module.named_children().keys();
  return children.empty() ? "none" : join(children);
}

}  // namespace

Module::Module() = default;
Module::~Module() = default;

Outputs Module::forward_through_hooks(Args& args) { return hook_registry_->dispatch(args); }

Module* Module::find(std::string_view path) {
  torch::nn::Module* current = this;
  for (const auto segment : split_path(path)) {
    const auto children = current->named_children();
    const auto* child = children.find(std::string(segment));
    if (child == nullptr) return nullptr;
    current = child->get();
  }
  return dynamic_cast<Module*>(current);
}

Module& Module::at(std::string_view path) {
  torch::nn::Module* current = this;
  std::string walked;
  for (const auto segment : split_path(path)) {
    const auto children = current->named_children();
    const auto* child = children.find(std::string(segment));
    TESSERA_CHECK(child != nullptr, "no submodule '", path, "' in ", name(), ": ",
                  walked.empty() ? std::string("it") : "'" + walked + "'", " has no child '", segment,
                  "' (children: ", child_names(*current), ")");
    current = child->get();
    walked += (walked.empty() ? "" : ".") + std::string(segment);
  }
  auto* module = dynamic_cast<Module*>(current);
  TESSERA_CHECK(module != nullptr, "submodule '", path, "' is a ", current->name(),
                ", not a tessera::Module, so it cannot be called or hooked");
  return *module;
}

std::vector<NamedModule> Module::find_all(std::string_view pattern) {
  std::vector<NamedModule> matches;
  if (path_matches(pattern, "")) matches.push_back({"", this});
  // include_self=false: named_modules would otherwise need this module to be owned by a shared_ptr.
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (!path_matches(pattern, item.key())) continue;
    if (auto* module = dynamic_cast<Module*>(item.value().get())) matches.push_back({item.key(), module});
  }
  return matches;
}

std::vector<NamedModule> Module::all_modules() {
  std::vector<NamedModule> modules{{"", this}};
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (auto* module = dynamic_cast<Module*>(item.value().get())) modules.push_back({item.key(), module});
  }
  return modules;
}

bool path_matches(std::string_view pattern, std::string_view path) {
  const auto wanted = split_path(pattern);
  const auto segments = split_path(path);
  if (wanted.size() != segments.size()) return false;
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (wanted[i] != "*" && wanted[i] != segments[i]) return false;
  }
  return true;
}

}  // namespace tessera
