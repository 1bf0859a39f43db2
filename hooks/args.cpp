#include "hooks/args.h"

#include "common/join.h"
#include "common/check.h"

namespace tessera {
namespace {

std::string joined(const std::vector<std::string>& names) { return names.empty() ? "none" : join(names); }

}  // namespace

const char* Value::type_name() const {
  static constexpr const char* kNames[] = {"None", "tensor", "double", "int", "bool", "string"};
  return kNames[data_.index()];
}

Args::Args(std::initializer_list<Entry> entries) {
  entries_.reserve(entries.size());
  for (const auto& entry : entries) set(entry.first, entry.second);
}

Args& Args::set(std::string name, Value value) {
  for (auto& entry : entries_) {
    if (entry.first == name) {
      entry.second = std::move(value);
      return *this;
    }
  }
  entries_.emplace_back(std::move(name), std::move(value));
  return *this;
}

bool Args::erase(std::string_view name) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == name) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

const Value* Args::find(std::string_view name) const {
  for (const auto& entry : entries_) {
    if (entry.first == name) return &entry.second;
  }
  return nullptr;
}

const Value& Args::at(std::string_view name) const {
  const Value* value = find(name);
  TESSERA_CHECK(value != nullptr, "missing argument '", name, "'; the arguments given are: ", joined(names()));
  return *value;
}

std::vector<std::string> Args::names() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (const auto& entry : entries_) result.push_back(entry.first);
  return result;
}

void Args::throw_type_mismatch(std::string_view name, const Value& value, const char* wanted) {
  TESSERA_CHECK(false, "argument '", name, "' is ", value.type_name(), ", expected ", wanted);
}

}  // namespace tessera
