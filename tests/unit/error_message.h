#pragma once
// What the tests assert about errors: the message a failing action throws, and whether it says something.
#include <functional>
#include <string>

#include "common/check.h"

namespace tessera {

inline std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace tessera
