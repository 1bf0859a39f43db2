#include "parallel/sequence_layout.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "common/check.h"

namespace tessera {
namespace {

// Beyond this many sums the layout is not worth searching: the lengths are exchanged instead.
constexpr size_t kMaxCandidates = 1024;

// The sums of the splits, each taken at most as many times as it was recorded (a tensor and its position ids
// have the same lengths; FLUX's text and image tokens may too), without the empty sum, each sum once.
std::vector<std::vector<int64_t>> sums_of(const std::vector<std::vector<int64_t>>& splits) {
  std::vector<std::pair<std::vector<int64_t>, int>> distinct;  // lengths, how many splits have them
  for (const auto& split : splits) {
    const auto same = std::find_if(distinct.begin(), distinct.end(), [&](const auto& entry) { return entry.first == split; });
    if (same != distinct.end()) {
      ++same->second;
    } else {
      distinct.emplace_back(split, 1);
    }
  }
  const size_t ranks = splits.front().size();
  std::vector<std::vector<int64_t>> sums{std::vector<int64_t>(ranks, 0)};
  for (const auto& [lengths, copies] : distinct) {
    std::vector<std::vector<int64_t>> extended;
    for (const auto& sum : sums) {
      for (int times = 0; times <= copies; ++times) {
        std::vector<int64_t> next = sum;
        for (size_t r = 0; r < ranks; ++r) next[r] += times * lengths[r];
        extended.push_back(std::move(next));
      }
    }
    if (extended.size() > kMaxCandidates + 1) return {};
    sums = std::move(extended);
  }
  sums.erase(sums.begin());  // the empty sum: zero copies of everything comes first
  std::sort(sums.begin(), sums.end());
  sums.erase(std::unique(sums.begin(), sums.end()), sums.end());
  return sums;
}

// Whether no two sums have the same length at any rank, so that a rank's own length picks one.
bool distinct_at_every_rank(const std::vector<std::vector<int64_t>>& sums) {
  if (sums.empty()) return false;
  for (size_t r = 0; r < sums.front().size(); ++r) {
    std::vector<int64_t> at_rank;
    for (const auto& sum : sums) at_rank.push_back(sum[r]);
    std::sort(at_rank.begin(), at_rank.end());
    if (std::adjacent_find(at_rank.begin(), at_rank.end()) != at_rank.end()) return false;
  }
  return true;
}

std::string describe(const std::vector<std::vector<int64_t>>& splits) {
  std::ostringstream text;
  for (size_t i = 0; i < splits.size(); ++i) {
    text << (i == 0 ? "[" : ", [");
    for (size_t r = 0; r < splits[i].size(); ++r) text << (r == 0 ? "" : ", ") << splits[i][r];
    text << "]";
  }
  return text.str();
}

}  // namespace

void SequenceLayout::add_split(std::vector<int64_t> shard_lengths) {
  if (finished_) splits_.clear();
  finished_ = false;
  TESSERA_INTERNAL_ASSERT(splits_.empty() || splits_.front().size() == shard_lengths.size(), "a split over ",
                          shard_lengths.size(), " ranks joins splits over ", splits_.front().size());
  splits_.push_back(std::move(shard_lengths));
  candidates_.reset();
}

void SequenceLayout::begin_forward() {
  if (depth_++ > 0) return;
  if (finished_) {
    splits_.clear();
    candidates_.reset();
  }
  finished_ = false;
}

void SequenceLayout::end_forward() {
  TESSERA_INTERNAL_ASSERT(depth_ > 0, "end_forward without begin_forward");
  if (--depth_ == 0) finished_ = true;
}

const std::vector<std::vector<int64_t>>& SequenceLayout::candidates() const {
  if (!candidates_) {
    candidates_.emplace();
    if (!splits_.empty()) {
      auto sums = sums_of(splits_);
      if (distinct_at_every_rank(sums)) *candidates_ = std::move(sums);
    }
  }
  return *candidates_;
}

std::optional<std::vector<int64_t>> SequenceLayout::lengths(int64_t local_length, int rank) const {
  const auto& sums = candidates();
  if (sums.empty()) return std::nullopt;
  TESSERA_INTERNAL_ASSERT(rank >= 0 && static_cast<size_t>(rank) < sums.front().size(), "rank ", rank, " of ",
                          sums.front().size());
  for (const auto& sum : sums) {
    if (sum[rank] == local_length) return sum;
  }
  TESSERA_CHECK(false, "a sequence-parallel tensor has ", local_length, " tokens on context-parallel rank ", rank,
                ", which is no sum of the shards the context-parallel plan split in this forward (every rank's "
                "lengths: ", describe(splits_), "). The plan must split every tensor whose tokens reach "
                "sequence-parallel attention or a gather, and tokens must not be added or dropped in between.");
  return std::nullopt;
}

}  // namespace tessera
