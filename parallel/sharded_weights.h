#pragma once
// A model's parameters sharded across the ranks of one generation (--shard-weights, docs/shard_weights.md). Each
// unit (weight_units.h) lays its parameters of one dtype end to end in one flat buffer, row-major, in unit order;
// the buffer is cut into `group.size()` contiguous element ranges (shard_sizes), and a rank keeps only its own.
// Gathering a unit is one all-gather per dtype, whose result is the whole flat buffer: every parameter of the unit
// is then a view of it, the same bits as the unsharded tensor. Released, a parameter holds an empty tensor, so a
// forward outside the gathers fails loudly rather than computing with stale weights.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parallel/weight_units.h"

namespace tessera {

class Communicator;
class PendingExchange;

// Where a rank's share of one parameter goes: elements [begin, begin + destination.numel()) of the parameter's
// row-major flattening, written into `destination` (a 1-D view of the rank's buffer; empty when it holds none).
struct LocalPiece {
  int64_t begin = 0;
  at::Tensor destination;
};

class ShardedWeights {
 public:
  // Lays out `units` for `group` and allocates this rank's buffers (uninitialised) on `device`; the parameters are
  // not touched until release_all(). Every rank of the group must build the same units.
  ShardedWeights(std::vector<WeightUnit> units, std::shared_ptr<Communicator> group, c10::Device device);
  ~ShardedWeights();
  ShardedWeights(const ShardedWeights&) = delete;
  ShardedWeights& operator=(const ShardedWeights&) = delete;

  // What a loader fills, by parameter name.
  std::map<std::string, LocalPiece> local_pieces() const;
  // Every parameter gives up its data for an empty tensor (after loading; parameters made on the meta device too).
  void release_all();

  size_t units() const;
  const std::string& unit_name(size_t unit) const;
  // Before unit `unit` runs: its full weights are in its parameters (the prefetched gather waited for, or a
  // gather run now), and the next unit's gather is started. Every rank of the group calls it in the same order.
  void before(size_t unit);
  // After it ran: its full copy is freed (the parameters hold empty tensors again); a pending gather is polled.
  void after(size_t unit);
  // What a rank of the group that does not run the model calls instead of a forward (a text encoder's, which one
  // rank runs for the others): every unit gathered and freed at once, in the order a forward gathers them, so the
  // group's gathers stay matched.
  void accompany_forward();

  int64_t local_bytes() const;   // this rank's share of every unit
  int64_t total_bytes() const;   // the whole model's parameters
  int64_t parameter_count() const;  // elements of the whole model's parameters
  int64_t largest_unit_bytes() const;
  // Every parameter's whole shape, by name: what its empty tensor stands for between gathers.
  std::map<std::string, std::vector<int64_t>> parameter_shapes() const;
  // Units made whole so far: gathers started (a prefetch counts when it starts, a stray one too), or, on a group of
  // one rank, units whose parameters were pointed at the rank's own buffers.
  int64_t gathers() const { return gathers_; }
  // The communicator the gathers run on (split from the group for them alone, or the group itself when it has one
  // rank): its stats() count them.
  Communicator& gather_group() const { return *group_; }

 private:
  struct Slab;  // one dtype of one unit
  struct Unit;
  void start(size_t unit);
  void materialize(size_t unit);
  void release(size_t unit);

  std::vector<Unit> units_;
  std::shared_ptr<Communicator> group_;
  c10::Device device_;
  std::optional<size_t> pending_unit_;
  std::vector<std::unique_ptr<PendingExchange>> pending_;  // one per slab of pending_unit_
  int64_t gathers_ = 0;
  // Gathered buffers of released units, reused by later gathers of the same size (CPU: glibc maps and unmaps every
  // buffer this large, so a fresh one faults all its pages in again).
  std::vector<at::Tensor> spare_buffers_;
};

// A unit's full weights for one scope: before() when made, after() when it ends (not while an exception unwinds:
// the group's gathers are then out of step anyway); nothing for an unsharded model (null weights). For a forward
// that gathers its own units (the text encoders) rather than through hooks; unit 0 spans the whole forward.
class GatheredUnit {
 public:
  GatheredUnit(ShardedWeights* weights, size_t unit);
  ~GatheredUnit() noexcept(false);  // a failed gather or poll throws
  GatheredUnit(const GatheredUnit&) = delete;
  GatheredUnit& operator=(const GatheredUnit&) = delete;

 private:
  ShardedWeights* weights_;
  size_t unit_;
  int exceptions_;
};

}  // namespace tessera
