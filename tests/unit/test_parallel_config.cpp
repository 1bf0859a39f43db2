#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "common/check.h"
#include "parallel/parallel_config.h"

namespace tessera {
namespace {

TEST(ParallelConfig, ProductMustEqualWorldAndErrorNamesTheNumbers) {
  EXPECT_NO_THROW(validate({2, 2, 1}, 4));
  EXPECT_NO_THROW(validate({1, 2, 2}, 4));
  try {
    validate({2, 2, 1}, 3);
    FAIL() << "3 ranks accepted for 2x2";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("= 4 ranks"), std::string::npos) << message;
    EXPECT_NE(message.find("-np 3"), std::string::npos) << message;
    EXPECT_NE(message.find("--ulysses 3"), std::string::npos) << message;
  }
  EXPECT_THROW(validate({0, 1, 1}, 0), Error);
  EXPECT_THROW(validate({1, 1, 3}, 3), Error);
}

TEST(ParallelConfig, CoordinatesAreABijectionWithUlyssesInnermost) {
  const ParallelConfig config{2, 3, 2};
  std::set<std::tuple<int, int, int>> seen;
  for (int rank = 0; rank < config.world_size(); ++rank) {
    const auto c = mesh_coordinates(config, rank);
    EXPECT_EQ((c.cfg * config.ring + c.ring) * config.ulysses + c.ulysses, rank);
    seen.emplace(c.cfg, c.ring, c.ulysses);
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(mesh_coordinates(config, 1).ulysses, 1);
  EXPECT_EQ(mesh_coordinates(config, 2).ring, 1);
  EXPECT_EQ(mesh_coordinates(config, 6).cfg, 1);
  EXPECT_THROW(mesh_coordinates(config, 12), Error);
}

}  // namespace
}  // namespace tessera
