#include <gtest/gtest.h>

#include "common/check.h"
#include "common/env.h"
#include "common/log.h"

namespace tessera {
namespace {

TEST(Check, PassingConditionDoesNotThrow) { EXPECT_NO_THROW(TESSERA_CHECK(1 + 1 == 2, "unused")); }

TEST(Check, FailureCarriesMessageValuesAndRelativeLocation) {
  try {
    const int ranks = 3;
    TESSERA_CHECK(ranks == 4, "expected 4 ranks, got ", ranks);
    FAIL() << "TESSERA_CHECK did not throw";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("expected 4 ranks, got 3"), std::string::npos) << message;
    EXPECT_NE(message.find("(at tests/unit/test_check.cpp:"), std::string::npos) << message;
  }
}

TEST(Check, InternalAssertNamesConditionAndAsksForReport) {
  try {
    TESSERA_INTERNAL_ASSERT(2 < 1, "detail ", 7);
    FAIL() << "TESSERA_INTERNAL_ASSERT did not throw";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("2 < 1"), std::string::npos) << message;
    EXPECT_NE(message.find("detail 7"), std::string::npos) << message;
    EXPECT_NE(message.find("tessera bug"), std::string::npos) << message;
  }
}

TEST(Env, SecondsParsesAndRejectsGarbage) {
  setenv("TESSERA_TEST_SECONDS", "2.5", 1);
  EXPECT_DOUBLE_EQ(env::seconds("TESSERA_TEST_SECONDS", 9), 2.5);
  setenv("TESSERA_TEST_SECONDS", "soon", 1);
  EXPECT_THROW(env::seconds("TESSERA_TEST_SECONDS", 9), Error);
  setenv("TESSERA_TEST_SECONDS", "-1", 1);
  EXPECT_THROW(env::seconds("TESSERA_TEST_SECONDS", 9), Error);
  unsetenv("TESSERA_TEST_SECONDS");
  EXPECT_DOUBLE_EQ(env::seconds("TESSERA_TEST_SECONDS", 9), 9);
}

TEST(Log, LevelsParseAndRankZeroDefaultsToInfo) {
  EXPECT_EQ(log::parse_level("debug"), log::Level::debug);
  EXPECT_THROW(log::parse_level("loud"), Error);
  log::configure(0, 2);
  EXPECT_TRUE(log::enabled(log::Level::info));
  EXPECT_FALSE(log::enabled(log::Level::debug));
  log::configure(1, 2);
  EXPECT_FALSE(log::enabled(log::Level::info));
  EXPECT_TRUE(log::enabled(log::Level::warn));
  log::configure(1, 2, log::Level::debug);
  EXPECT_TRUE(log::enabled(log::Level::debug));
}

// --log-level off silences the logs, not the error that ends the program.
TEST(Log, FatalErrorsArePrintedEvenWhenLoggingIsOff) {
  log::configure(0, 1, log::Level::off);
  ::testing::internal::CaptureStderr();
  TESSERA_LOG_ERROR("an ordinary error");
  log::fatal("the job failed: disk full");
  const std::string printed = ::testing::internal::GetCapturedStderr();
  log::configure(0, 1);
  EXPECT_EQ(printed.find("an ordinary error"), std::string::npos) << printed;
  EXPECT_NE(printed.find("[rank 0/1] ["), std::string::npos) << printed;
  EXPECT_NE(printed.find("critical"), std::string::npos) << printed;
  EXPECT_NE(printed.find("] the job failed: disk full"), std::string::npos) << printed;
}

}  // namespace
}  // namespace tessera
