#include "src/io/json_integer.h"

#include <cmath>

#include "common/check.h"

namespace tessera::io::detail {
namespace {

// __int128 has no stream operator; every bound passed here fits in an int64 or a uint64.
std::string text_of(__int128 number) {
  if (number < 0) return std::to_string(static_cast<int64_t>(number));
  return std::to_string(static_cast<uint64_t>(number));
}

}  // namespace

__int128 json_integer_in(const nlohmann::json& value, const std::string& what, __int128 min, __int128 max) {
  const std::string expected = "an integer from " + text_of(min) + " to " + text_of(max);
  __int128 number = 0;
  if (value.is_number_unsigned()) {
    number = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    number = value.get<int64_t>();
  } else {
    TESSERA_CHECK(value.is_number_float(), what, " must be ", expected, ", got ", value.type_name(), " ",
                  value.dump());
    const double real = value.get<double>();
    // 2^64 bounds the check before the conversion, whose result is undefined out of range.
    TESSERA_CHECK(std::isfinite(real) && std::trunc(real) == real && std::fabs(real) < 0x1p64, what, " must be ",
                  expected, ", got ", value.dump());
    number = static_cast<__int128>(real);
  }
  TESSERA_CHECK(number >= min && number <= max, what, " must be ", expected, ", got ", value.dump());
  return number;
}

}  // namespace tessera::io::detail
