#pragma once
// The uniform calling convention of tessera::Module: named arguments in, indexed tensors out. One
// convention for every module is what lets a hook or a plan rewrite "hidden_states" or "output 0" of any
// module without knowing its C++ signature.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tessera {

// One argument: a tensor, a scalar, a string, or None (an optional argument explicitly left out).
class Value {
 public:
  Value() = default;
  Value(std::nullopt_t) {}
  Value(at::Tensor tensor) : data_(std::move(tensor)) {}
  Value(double number) : data_(number) {}
  Value(int64_t integer) : data_(integer) {}
  Value(int integer) : data_(static_cast<int64_t>(integer)) {}
  Value(bool flag) : data_(flag) {}
  Value(std::string text) : data_(std::move(text)) {}
  Value(const char* text) : data_(std::string(text)) {}

  bool is_none() const { return std::holds_alternative<std::monostate>(data_); }
  template <typename T>
  bool holds() const {
    return std::holds_alternative<T>(data_);
  }
  template <typename T>
  const T* get_if() const {
    return std::get_if<T>(&data_);
  }
  const char* type_name() const;

 private:
  std::variant<std::monostate, at::Tensor, double, int64_t, bool, std::string> data_;
};

// Arguments by name, kept in insertion order so that printing and iteration are deterministic. Modules take
// a handful of arguments, so a linear search beats a map and allocates less.
class Args {
 public:
  using Entry = std::pair<std::string, Value>;

  Args() = default;
  Args(std::initializer_list<Entry> entries);

  // Replaces the value of an existing name in place, else appends.
  Args& set(std::string name, Value value);
  bool erase(std::string_view name);
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const Value* find(std::string_view name) const;
  // The argument, which must be present; throws naming the argument and the names that are present.
  const Value& at(std::string_view name) const;

  // Typed access: `get` throws when the argument is missing or holds another type (None included);
  // `get_if` returns null when it is missing or None, and throws only on a type mismatch.
  template <typename T>
  const T& get(std::string_view name) const {
    const Value& value = at(name);
    if (const T* typed = value.get_if<T>()) return *typed;
    throw_type_mismatch(name, value, type_name_of<T>());
  }
  template <typename T>
  const T* get_if(std::string_view name) const {
    const Value* value = find(name);
    if (value == nullptr || value->is_none()) return nullptr;
    if (const T* typed = value->get_if<T>()) return typed;
    throw_type_mismatch(name, *value, type_name_of<T>());
  }
  const at::Tensor& tensor(std::string_view name) const { return get<at::Tensor>(name); }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<std::string> names() const;
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  template <typename T>
  static const char* type_name_of();
  [[noreturn]] static void throw_type_mismatch(std::string_view name, const Value& value, const char* wanted);

  std::vector<Entry> entries_;
};

template <> inline const char* Args::type_name_of<at::Tensor>() { return "tensor"; }
template <> inline const char* Args::type_name_of<double>() { return "double"; }
template <> inline const char* Args::type_name_of<int64_t>() { return "int"; }
template <> inline const char* Args::type_name_of<bool>() { return "bool"; }
template <> inline const char* Args::type_name_of<std::string>() { return "string"; }

// A module's results by position (diffusers' tuple outputs): output 0 is the main result.
using Outputs = std::vector<at::Tensor>;

}  // namespace tessera
