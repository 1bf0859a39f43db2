#pragma once
// "a, b, c": the items of a range, each written with operator<< (strings, numbers), between separators. The one
// join for messages and tables.
#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>

namespace tessera {

template <typename Range>
std::string join(const Range& items, std::string_view separator = ", ") {
  std::ostringstream text;
  bool first = true;
  for (const auto& item : items) {
    if (!first) text << separator;
    text << item;
    first = false;
  }
  return text.str();
}

// The first `listed` items joined, then ", ... (N in all)" when there are more: lists of tensor names in errors.
template <typename Range>
std::string join_first(const Range& items, size_t listed, std::string_view separator = ", ") {
  std::ostringstream text;
  size_t count = 0;
  for (const auto& item : items) {
    if (count < listed) text << (count ? separator : std::string_view()) << item;
    ++count;
  }
  if (count > listed) text << separator << "... (" << count << " in all)";
  return text.str();
}

}  // namespace tessera
