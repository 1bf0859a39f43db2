#pragma once
// Reading an integer from a JSON file (config.json, scheduler_config.json, a recipe, a job line) checked against
// its range before it is narrowed: nlohmann's get<int>() wraps 1e12 and truncates 2.5 without a word, and
// a size that wrapped or was absurd would surface later as a bad_alloc or an overflow, far from its cause.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

namespace tessera::io {
namespace detail {
// `value` as an exact integer in [min, max] (__int128 holds every int64 and uint64); throws otherwise.
__int128 json_integer_in(const nlohmann::json& value, const std::string& what, __int128 min, __int128 max);
}  // namespace detail

// The integer `value`, in [min, max]; `what` names it in the error ("config.json \"num_layers\""). Integral
// floats such as 1000.0, which Python's json may write, are read as integers. Throws tessera::Error naming
// `what`, the range and the value for anything else.
template <typename Int>
Int json_integer(const nlohmann::json& value, const std::string& what,
                 std::common_type_t<Int> min = std::numeric_limits<Int>::min(),
                 std::common_type_t<Int> max = std::numeric_limits<Int>::max()) {
  static_assert(std::is_integral_v<Int> && sizeof(Int) <= 8, "json_integer reads integers of at most 64 bits");
  return static_cast<Int>(detail::json_integer_in(value, what, min, max));
}

}  // namespace tessera::io
