// SequenceLayout: which lengths the context-parallel plan's splits settle for every rank, and that it answers
// alike on every rank (so all take the same path), with the lifecycle of one forward.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "common/check.h"
#include "parallel/sequence_layout.h"
#include "parallel/shard_sizes.h"

namespace tessera {
namespace {

using Lengths = std::vector<int64_t>;

// What each rank of the group would get for its own shard of `sequence`.
std::vector<std::optional<Lengths>> every_rank(const SequenceLayout& layout, const Lengths& sequence) {
  std::vector<std::optional<Lengths>> answers;
  for (size_t rank = 0; rank < sequence.size(); ++rank) answers.push_back(layout.lengths(sequence[rank], static_cast<int>(rank)));
  return answers;
}

void expect_known(const SequenceLayout& layout, const Lengths& sequence) {
  for (const auto& answer : every_rank(layout, sequence)) {
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(*answer, sequence);
  }
}

void expect_exchanged(const SequenceLayout& layout, const Lengths& sequence) {
  for (const auto& answer : every_rank(layout, sequence)) EXPECT_FALSE(answer.has_value());
}

// Wan: the rotary tables, the tokens and the per-token timesteps are cut alike; attention and proj_out's gather
// see the tokens.
TEST(SequenceLayout, OneStreamSplitSeveralTimes) {
  SequenceLayout layout;
  const Lengths tokens = shard_sizes(45, 4);
  for (int i = 0; i < 4; ++i) layout.add_split(tokens);
  expect_known(layout, tokens);
}

// FLUX: image tokens and their ids, text tokens and their ids. Attention sees text + image on every rank (not the
// shard_sizes cut of the joint length); proj_out's gather sees the image tokens.
TEST(SequenceLayout, FluxJointShardsAreSumsOfTwoCuts) {
  for (const int ranks : {2, 3, 4}) {
    SCOPED_TRACE(ranks);
    SequenceLayout layout;
    const Lengths image = shard_sizes(35, ranks), text = shard_sizes(7, ranks);
    for (const auto& split : {image, text, image, text}) layout.add_split(split);
    Lengths joint(ranks);
    for (int r = 0; r < ranks; ++r) joint[r] = image[r] + text[r];
    ASSERT_NE(joint, shard_sizes(42, ranks));
    expect_known(layout, joint);
    expect_known(layout, image);
  }
}

TEST(SequenceLayout, TextAndImageOfOneLength) {
  SequenceLayout layout;
  const Lengths half = shard_sizes(9, 2);
  for (int i = 0; i < 4; ++i) layout.add_split(half);
  expect_known(layout, {10, 8});
  expect_known(layout, half);
}

// When two sums agree at some rank, that rank's length cannot say which it is: every rank exchanges, not just it.
TEST(SequenceLayout, AmbiguousSumsAreExchangedOnEveryRank) {
  SequenceLayout idle;  // more ranks than tokens: 0 is every multiple of an idle rank's 0
  idle.add_split(shard_sizes(2, 3));
  idle.add_split(shard_sizes(2, 3));
  expect_exchanged(idle, shard_sizes(2, 3));

  SequenceLayout equal_at_one_rank;  // image [3, 2], text [2, 2]: at rank 1 image = text
  equal_at_one_rank.add_split(shard_sizes(5, 2));
  equal_at_one_rank.add_split(shard_sizes(4, 2));
  expect_exchanged(equal_at_one_rank, shard_sizes(5, 2));
  expect_exchanged(equal_at_one_rank, {5, 4});

  expect_exchanged(SequenceLayout(), {3, 3});  // nothing split
}

TEST(SequenceLayout, ALengthThatIsNoSumIsAnError) {
  SequenceLayout layout;
  layout.add_split(shard_sizes(45, 2));
  EXPECT_THROW(layout.lengths(11, 0), Error);  // halved tokens (a downsampling block) are not in the plan
}

// The splits belong to one forward: the root's, recorded just before it starts, count; an earlier forward's
// do not; a nested forward does not start afresh.
TEST(SequenceLayout, SplitsLastOneForward) {
  SequenceLayout layout;
  layout.add_split(shard_sizes(10, 2));  // the root's split, before the forward
  layout.begin_forward();
  layout.add_split(shard_sizes(10, 2));
  layout.begin_forward();  // nested
  layout.end_forward();
  expect_known(layout, {5, 5});
  layout.end_forward();
  expect_known(layout, {5, 5});  // a gather at the root, after the forward, still knows them

  layout.begin_forward();  // a forward that splits nothing forgets the last one's splits
  expect_exchanged(layout, {5, 5});
  layout.end_forward();

  layout.add_split(shard_sizes(6, 2));
  layout.begin_forward();
  layout.end_forward();
  layout.add_split(shard_sizes(8, 2));  // the next forward's root split replaces the finished forward's
  expect_known(layout, {4, 4});
  EXPECT_THROW(layout.lengths(3, 0), Error);
}

}  // namespace
}  // namespace tessera
