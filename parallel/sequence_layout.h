#pragma once
// Every context-parallel rank's shard lengths in one forward, as the plan's split hooks cut them, so that
// distributed attention and the plan's gathers know the lengths instead of exchanging them (one 8-byte collective
// per attention call, one shape exchange per gather). Every rank of the group splits the same full tensors, so all
// record the same splits; whether they settle a length is decided from them alone, so every rank takes the same
// path (a collective that one rank skips on its own deadlocks the others).
#include <cstdint>
#include <optional>
#include <vector>

namespace tessera {

class SequenceLayout {
 public:
  // A tensor the plan split: every rank's shard length along the split dim, in context-parallel group order.
  void add_split(std::vector<int64_t> shard_lengths);

  // The model's forward, nested calls included: the splits recorded belong to the outermost forward. Those its
  // root recorded just before it starts count; those of an earlier forward do not.
  void begin_forward();
  void end_forward();

  // Every rank's length of the sequence whose shard here, on `rank`, is `local_length` long. Such a sequence joins
  // whole split tensors (Wan's tokens; FLUX's text and image tokens, whose shards are sums of two cuts), so the
  // candidates are the sums of the recorded splits. When the candidates differ at every rank, each rank's own
  // length names the same one. nullopt when they do not, or nothing was split: the caller then exchanges the
  // lengths, as every rank decides alike. Throws when no candidate has `local_length`: the sequence is not made
  // of what the plan split, and other ranks may already be in a collective with lengths that do not fit.
  std::optional<std::vector<int64_t>> lengths(int64_t local_length, int rank) const;

 private:
  const std::vector<std::vector<int64_t>>& candidates() const;

  std::vector<std::vector<int64_t>> splits_;
  int depth_ = 0;
  bool finished_ = true;  // the forward that recorded splits_ has ended: the next split or forward starts afresh
  mutable std::optional<std::vector<std::vector<int64_t>>> candidates_;  // empty when not every rank tells them apart
};

}  // namespace tessera
