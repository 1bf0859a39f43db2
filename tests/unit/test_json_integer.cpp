// The range-checked integer read every config reader uses (src/io/json_integer.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "src/io/json_integer.h"
#include "tests/unit/error_message.h"

namespace tessera::io {
namespace {

using nlohmann::json;

TEST(JsonInteger, ReadsIntegersAndIntegralFloatsInRange) {
  EXPECT_EQ(json_integer<int>(json(40), "n"), 40);
  EXPECT_EQ(json_integer<int>(json(1000.0), "n"), 1000);  // Python's json writes some integers so
  EXPECT_EQ(json_integer<int64_t>(json(-5), "n", -5, 5), -5);
  EXPECT_EQ(json_integer<uint64_t>(json(UINT64_MAX), "seed"), UINT64_MAX);
  EXPECT_EQ(json_integer<int64_t>(json(INT64_MIN), "n"), INT64_MIN);
}

TEST(JsonInteger, RefusesWhatNarrowingWouldWrapOrTruncate) {
  EXPECT_TRUE(has(message_of([] { json_integer<int>(json(1000000000000), "config.json \"num_layers\""); }),
                  "config.json \"num_layers\" must be an integer from -2147483648 to 2147483647, got 1000000000000"));
  EXPECT_TRUE(has(message_of([] { json_integer<int64_t>(json(UINT64_MAX), "n"); }),
                  "n must be an integer from -9223372036854775808 to 9223372036854775807, got 18446744073709551615"));
  EXPECT_TRUE(has(message_of([] { json_integer<uint64_t>(json(-1), "seed"); }), "seed must be an integer from 0"));
  EXPECT_TRUE(has(message_of([] { json_integer<int>(json(2.5), "n"); }), "n must be an integer from"));
  EXPECT_TRUE(has(message_of([] { json_integer<int64_t>(json(1e300), "n"); }), "got 1e+300"));
}

TEST(JsonInteger, RefusesValuesOutsideTheCallersRange) {
  EXPECT_TRUE(has(message_of([] { json_integer<int64_t>(json(0), "dim", 1, 64); }),
                  "dim must be an integer from 1 to 64, got 0"));
  EXPECT_TRUE(has(message_of([] { json_integer<int64_t>(json(65), "dim", 1, 64); }), "got 65"));
  EXPECT_EQ(json_integer<int64_t>(json(64), "dim", 1, 64), 64);
}

TEST(JsonInteger, RefusesOtherTypesNamingThem) {
  EXPECT_TRUE(has(message_of([] { json_integer<int>(json("3"), "n"); }), "n must be an integer from") &&
              has(message_of([] { json_integer<int>(json("3"), "n"); }), "got string \"3\""));
  EXPECT_TRUE(has(message_of([] { json_integer<int>(json(true), "n"); }), "got boolean true"));
  EXPECT_TRUE(has(message_of([] { json_integer<int>(json(nullptr), "n"); }), "got null"));
}

}  // namespace
}  // namespace tessera::io
