#pragma once
// Error reporting in the PyTorch way: TESSERA_CHECK for user-facing errors (throws tessera::Error with the
// source location), TESSERA_INTERNAL_ASSERT for invariants that only a tessera bug can break.
#include <sstream>
#include <stdexcept>
#include <string>

namespace tessera {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return {};
  } else {
    std::ostringstream stream;
    (stream << ... << args);
    return stream.str();
  }
}

[[noreturn]] void throw_check_failure(const char* file, int line, const std::string& message);
[[noreturn]] void throw_internal_failure(const char* file, int line, const char* condition,
                                         const std::string& message);

}  // namespace detail
}  // namespace tessera

#define TESSERA_CHECK(cond, ...)                                                                   \
  do {                                                                                             \
    if (!(cond)) [[unlikely]] {                                                                    \
      ::tessera::detail::throw_check_failure(__FILE__, __LINE__, ::tessera::detail::concat(__VA_ARGS__)); \
    }                                                                                              \
  } while (0)

#define TESSERA_INTERNAL_ASSERT(cond, ...)                                                         \
  do {                                                                                             \
    if (!(cond)) [[unlikely]] {                                                                    \
      ::tessera::detail::throw_internal_failure(__FILE__, __LINE__, #cond,                         \
                                                 ::tessera::detail::concat(__VA_ARGS__));          \
    }                                                                                              \
  } while (0)
