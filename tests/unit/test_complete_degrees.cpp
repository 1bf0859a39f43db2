#include <gtest/gtest.h>

#include <cstdint>

#include "error_message.h"
#include "parallel/complete_degrees.h"

namespace tessera {
namespace {

// A head count the completion must not ask for (every case where Ulysses or Ring is given, or one rank).
int64_t heads_not_needed() {
  ADD_FAILURE() << "the head count was read although no degree was left to choose from it";
  return 1;
}

ParallelConfig complete(int ranks, GivenDegrees given, int64_t heads) {
  return complete_degrees(ranks, given, [heads] { return heads; }).config;
}

void expect_degrees(const ParallelConfig& config, int ulysses, int ring, int cfg) {
  EXPECT_EQ(config.ulysses, ulysses) << config.to_string();
  EXPECT_EQ(config.ring, ring) << config.to_string();
  EXPECT_EQ(config.cfg, cfg) << config.to_string();
}

TEST(CompleteDegrees, NoneGivenPutsUlyssesOnTheLargestEvenShareOfHeadsAndRingOnTheRest) {
  expect_degrees(complete(2, {}, 4), 2, 1, 1);    // the embedded model: 4 heads
  expect_degrees(complete(2, {}, 3), 1, 2, 1);    // 3 heads cannot split over 2 evenly
  expect_degrees(complete(4, {}, 3), 1, 4, 1);
  expect_degrees(complete(3, {}, 3), 3, 1, 1);
  expect_degrees(complete(8, {}, 12), 4, 2, 1);   // Wan2.1 1.3B
  expect_degrees(complete(8, {}, 40), 8, 1, 1);   // Wan2.1 14B
  expect_degrees(complete(16, {}, 24), 8, 2, 1);  // FLUX.1
  expect_degrees(complete(6, {}, 4), 2, 3, 1);
  expect_degrees(complete(2, {}, 1), 1, 2, 1);
}

TEST(CompleteDegrees, PrimeRankCountsGoToRingUnlessThePrimeDividesTheHeads) {
  expect_degrees(complete(5, {}, 12), 1, 5, 1);
  expect_degrees(complete(7, {}, 12), 1, 7, 1);
  expect_degrees(complete(7, {}, 14), 7, 1, 1);
  expect_degrees(complete(13, {}, 40), 1, 13, 1);
}

TEST(CompleteDegrees, OneRankIsOneOfEachWithoutAskingForTheHeads) {
  const CompletedDegrees completed = complete_degrees(1, {}, heads_not_needed);
  expect_degrees(completed.config, 1, 1, 1);
  EXPECT_TRUE(has(completed.chosen, "no degrees given")) << completed.chosen;
}

TEST(CompleteDegrees, ChosenSaysWhy) {
  const CompletedDegrees completed = complete_degrees(8, {}, [] { return int64_t{12}; });
  EXPECT_TRUE(has(completed.chosen, "no degrees given")) << completed.chosen;
  EXPECT_TRUE(has(completed.chosen, "12 heads")) << completed.chosen;
}

TEST(CompleteDegrees, UlyssesGivenRingTakesTheRest) {
  const CompletedDegrees completed = complete_degrees(4, {.ulysses = 2}, heads_not_needed);
  expect_degrees(completed.config, 2, 2, 1);
  EXPECT_TRUE(has(completed.chosen, "--ulysses 2 leaves")) << completed.chosen;
  // Ulysses runs heads that do not divide it (ranks hold different counts): a given degree is kept.
  expect_degrees(complete_degrees(4, {.ulysses = 4}, heads_not_needed).config, 4, 1, 1);
  expect_degrees(complete_degrees(6, {.ulysses = 3}, heads_not_needed).config, 3, 2, 1);
}

TEST(CompleteDegrees, RingGivenUlyssesTakesTheRest) {
  const CompletedDegrees completed = complete_degrees(8, {.ring = 2}, heads_not_needed);
  expect_degrees(completed.config, 4, 2, 1);
  EXPECT_TRUE(has(completed.chosen, "--ring 2 leaves")) << completed.chosen;
  expect_degrees(complete_degrees(3, {.ring = 3}, heads_not_needed).config, 1, 3, 1);
}

TEST(CompleteDegrees, CfgGivenSplitsTheHalvesByTheSameRule) {
  expect_degrees(complete(4, {.cfg = 2}, 4), 2, 1, 2);
  expect_degrees(complete(8, {.cfg = 2}, 3), 1, 4, 2);
  expect_degrees(complete(2, {.cfg = 2}, 4), 1, 1, 2);
  expect_degrees(complete_degrees(8, {.ulysses = 2, .cfg = 2}, heads_not_needed).config, 2, 2, 2);
  expect_degrees(complete_degrees(4, {.cfg = 1}, [] { return int64_t{4}; }).config, 4, 1, 1);
}

TEST(CompleteDegrees, AllGivenAreKeptAndNothingIsChosen) {
  const CompletedDegrees completed = complete_degrees(8, {.ulysses = 2, .ring = 2, .cfg = 2}, heads_not_needed);
  expect_degrees(completed.config, 2, 2, 2);
  EXPECT_TRUE(completed.chosen.empty()) << completed.chosen;
  // CFG-parallel is never chosen: Ulysses and Ring given, --cfg absent is 1.
  expect_degrees(complete_degrees(4, {.ulysses = 2, .ring = 2}, heads_not_needed).config, 2, 2, 1);
}

TEST(CompleteDegrees, GivenDegreesThatDoNotFillTheJobNameTheFix) {
  // The old message for a product off the world, with the flag to leave out.
  std::string message = message_of([] { complete_degrees(2, {.ulysses = 2, .ring = 2}, heads_not_needed); });
  EXPECT_TRUE(has(message, "= 4 ranks, but the job has 2")) << message;
  EXPECT_TRUE(has(message, "-np 4")) << message;
  EXPECT_TRUE(has(message, "leave --ring out")) << message;
  message = message_of([] { complete_degrees(2, {.ulysses = 3, .ring = 1}, heads_not_needed); });
  EXPECT_TRUE(has(message, "leave --ulysses out (Ulysses then takes the 2")) << message;
  message = message_of([] { complete_degrees(6, {.ulysses = 4, .ring = 4}, heads_not_needed); });
  EXPECT_TRUE(has(message, "leave --ulysses and --ring out")) << message;
  // CFG-parallel is not chosen to make up a product: 2 x 1 on 4 ranks is an error, not --cfg 2.
  message = message_of([] { complete_degrees(4, {.ulysses = 2, .ring = 1}, heads_not_needed); });
  EXPECT_TRUE(has(message, "= 2 ranks, but the job has 4")) << message;

  // One degree that does not divide the ranks.
  message = message_of([] { complete_degrees(2, {.ulysses = 3}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--ulysses 3 needs a multiple of 3 ranks")) << message;
  EXPECT_TRUE(has(message, "the job has 2")) << message;
  EXPECT_TRUE(has(message, "that divides 2 (1, 2)")) << message;
  message = message_of([] { complete_degrees(4, {.ring = 3}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--ring 3 needs a multiple of 3 ranks (--ulysses takes the rest)")) << message;
  EXPECT_TRUE(has(message, "(1, 2, 4)")) << message;
  message = message_of([] { complete_degrees(8, {.ulysses = 3, .cfg = 2}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--ulysses 3 x --cfg 2 needs a multiple of 6 ranks")) << message;

  // CFG-parallel on an odd number of ranks, and degrees out of range.
  message = message_of([] { complete_degrees(3, {.cfg = 2}, heads_not_needed); });
  EXPECT_TRUE(has(message, "the job has 3")) << message;
  EXPECT_TRUE(has(message, "leave --cfg out")) << message;
  message = message_of([] { complete_degrees(4, {.cfg = 4}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--cfg must be 1 or 2")) << message;
  message = message_of([] { complete_degrees(4, {.ring = 0}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--ring must be at least 1, got 0")) << message;
}

TEST(CompleteDegrees, AModelWithoutHeadsIsAnErrorNamingTheFlags) {
  const std::string message = message_of([] { complete_degrees(2, {}, [] { return int64_t{0}; }); });
  EXPECT_TRUE(has(message, "give --ulysses and --ring")) << message;
}

// Every rank count and head count: the degrees fill the job, Ulysses divides both, and no larger degree does.
TEST(CompleteDegrees, UlyssesIsTheLargestCommonDivisorForEveryCount) {
  for (int ranks = 1; ranks <= 64; ++ranks) {
    for (int64_t heads = 1; heads <= 48; ++heads) {
      const ParallelConfig config = complete(ranks, {}, heads);
      ASSERT_EQ(config.world_size(), ranks) << ranks << " ranks, " << heads << " heads";
      ASSERT_EQ(ranks % config.ulysses, 0);
      ASSERT_EQ(heads % config.ulysses, 0);
      for (int larger = config.ulysses + 1; larger <= ranks; ++larger) {
        ASSERT_FALSE(ranks % larger == 0 && heads % larger == 0) << ranks << " ranks, " << heads << " heads";
      }
    }
  }
}

TEST(CompleteDegrees, GivenDegreesProductCountsTheMissingAsOne) {
  EXPECT_EQ(GivenDegrees{}.product(), 1);
  EXPECT_EQ((GivenDegrees{.ulysses = 2, .cfg = 2}.product()), 4);
  EXPECT_FALSE(GivenDegrees{}.any());
  EXPECT_TRUE(GivenDegrees{.ring = 1}.any());
}

DataParallelDegrees complete_batch(int world, std::optional<int> dp, GivenDegrees given, int64_t heads) {
  return complete_data_parallel(world, dp, given, [heads] { return heads; });
}

TEST(CompleteDataParallel, DpLeftOutTakesTheRanksTheDegreesLeave) {
  DataParallelDegrees batch = complete_data_parallel(2, std::nullopt, {}, heads_not_needed);
  EXPECT_EQ(batch.dp, 2);
  expect_degrees(batch.group.config, 1, 1, 1);
  EXPECT_TRUE(has(batch.chosen, "a data-parallel group per rank")) << batch.chosen;
  batch = complete_data_parallel(8, std::nullopt, {.ulysses = 2}, heads_not_needed);
  EXPECT_EQ(batch.dp, 4);
  expect_degrees(batch.group.config, 2, 1, 1);
  EXPECT_TRUE(has(batch.chosen, "the ranks the degrees given leave")) << batch.chosen;
  batch = complete_data_parallel(8, std::nullopt, {.ring = 2, .cfg = 2}, heads_not_needed);
  EXPECT_EQ(batch.dp, 2);
  expect_degrees(batch.group.config, 1, 2, 2);
  batch = complete_data_parallel(1, std::nullopt, {}, heads_not_needed);
  EXPECT_EQ(batch.dp, 1);
}

TEST(CompleteDataParallel, DpGivenLeavesItsGroupsToTheLaunchRule) {
  DataParallelDegrees batch = complete_batch(8, 2, {}, 12);
  EXPECT_EQ(batch.dp, 2);
  expect_degrees(batch.group.config, 4, 1, 1);
  batch = complete_batch(8, 1, {}, 3);
  expect_degrees(batch.group.config, 1, 8, 1);
  batch = complete_data_parallel(8, 2, {.ulysses = 2}, heads_not_needed);
  expect_degrees(batch.group.config, 2, 2, 1);
  batch = complete_data_parallel(4, 2, {.ulysses = 2, .ring = 1}, heads_not_needed);
  expect_degrees(batch.group.config, 2, 1, 1);
  EXPECT_TRUE(batch.chosen.empty()) << batch.chosen;
  batch = complete_data_parallel(4, 4, {}, heads_not_needed);
  expect_degrees(batch.group.config, 1, 1, 1);
}

TEST(CompleteDataParallel, DegreesThatDoNotFillTheWorldNameTheFix) {
  std::string message = message_of([] { complete_data_parallel(2, 3, {}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--dp 3 groups cannot share the job's 2 ranks")) << message;
  EXPECT_TRUE(has(message, "divides 2 (1, 2)")) << message;
  EXPECT_TRUE(has(message, "leave --dp out")) << message;
  message = message_of([] { complete_data_parallel(2, 0, {}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--dp 0 groups")) << message;
  message = message_of([] { complete_data_parallel(6, std::nullopt, {.ulysses = 4}, heads_not_needed); });
  EXPECT_TRUE(has(message, "= 4 ranks a group, but the job has 6")) << message;
  EXPECT_TRUE(has(message, "-np 4 or a multiple")) << message;
  // Within --dp groups the fix is a --dp, or a launch of whole groups.
  message = message_of([] { complete_data_parallel(8, 2, {.ulysses = 2, .ring = 1}, heads_not_needed); });
  EXPECT_TRUE(has(message, "= 2 ranks, but each of the --dp 2 groups has 4 of the job's 8")) << message;
  EXPECT_TRUE(has(message, "give --dp 4 (or leave --dp out)")) << message;
  message = message_of([] { complete_data_parallel(8, 2, {.ulysses = 3}, heads_not_needed); });
  EXPECT_TRUE(has(message, "--ulysses 3 needs a multiple of 3 ranks")) << message;
  EXPECT_TRUE(has(message, "launch with -np 6")) << message;
}

}  // namespace
}  // namespace tessera
