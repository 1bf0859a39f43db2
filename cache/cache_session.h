#pragma once
// What the cache hooks of one model share: the configuration, the per-context state (one per CFG branch),
// where to find the context-parallel group the decisions are reduced over, and the record of what every
// block did.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/block_streams.h"
#include "cache/cache_config.h"
#include "cache/cache_states.h"
#include "hooks/state_manager.h"

namespace tessera {

class Communicator;

enum class BlockAction { computed, skipped, forecast };
const char* to_string(BlockAction action);

// One block in one step on this rank. `metric` is the method's decision value where it has one (FBC: the
// relative change; TeaCache: the accumulated rescaled change; PAB: the timestep), NaN otherwise.
struct CacheRecord {
  std::string context;
  int64_t step = 0;
  int64_t block = 0;
  BlockAction action = BlockAction::computed;
  double metric = 0;
};

// Where a session finds the context-parallel group when it decides: enable_cache asks the model's hooks
// (context_parallel_group), so the group follows enable_parallelism / disable_parallelism in either order and
// the session never keeps one past its model's parallelism. Empty, or returning null: one rank.
using GroupSource = std::function<std::shared_ptr<Communicator>()>;

// Where the denoising loop is: the step's index, the generation's step count and the scheduler's sigma (what
// diffusers' pipelines pass as cache_context(name, step_index=, num_inference_steps=, sigma=)).
struct CacheStep {
  int64_t index = 0;
  int64_t count = 0;
  double sigma = 0;
};

class CacheSession {
 public:
  // `block_names` says what each block index is, for reports: module paths ("blocks.3", "blocks.0.attn1") or
  // a description. The context starts as "default".
  CacheSession(CacheConfig config, std::vector<std::string> block_names, GroupSource cp_group = {});

  const CacheConfig& config() const { return config_; }
  int64_t num_blocks() const { return static_cast<int64_t>(block_names_.size()); }
  const std::vector<std::string>& block_names() const { return block_names_; }
  // The group decisions are reduced over now; null for one rank.
  std::shared_ptr<Communicator> cp_group() const { return cp_group_ ? cp_group_() : nullptr; }
  StateManager<CacheContextState>& states() { return states_; }
  // The current context's state of this session's method (cache_states.h): `State` is that method's.
  template <class State>
  State& state() {
    return std::get<State>(states_.get_state());
  }

  // sum|a - b| / sum|b| over the whole (context-parallel) sequence: both sums are all-reduced over the CP
  // group, so every rank gets the same value and takes the same branch. 0/0 is 0; x/0 is infinity. NaN when
  // on any rank the shapes differ or `locally_comparable` is false: shard shapes can change on some ranks
  // only (45 -> 46 tokens over 4 ranks changes rank 1's shard, not rank 0's), and a rank-local check would
  // send the ranks down different branches, into different collectives.
  double relative_l1(const at::Tensor& current, const at::Tensor& previous, bool locally_comparable = true);
  // Every cache's skip/compute decision goes through here (collective_decision.h): reuse only when every
  // rank of the CP group would. Call it once per decision on every rank, whatever the local decision is.
  bool reuse_on_every_rank(bool reuse_here);

  // The timestep the next forwards run at, for methods that decide by timestep (PAB) when the config has no
  // callback: the caller sets it before each denoising step. Kept across reset (it is an input, not state).
  void set_timestep(double timestep) { timestep_ = timestep; }
  std::optional<double> timestep() const { return timestep_; }
  // The same for the methods that read the loop's step (MagCache's step count, SeaCache's step and sigma).
  void set_step(const CacheStep& step) { step_ = step; }
  std::optional<CacheStep> step() const { return step_; }
  // The timestep for a method that decides by it: `callback` when set, else the one set_timestep gave;
  // throws naming `method` and both ways to provide it when neither is there.
  double current_timestep(const std::function<double()>& callback, const char* method) const;

  void record(int64_t block, BlockAction action, double metric);
  const std::vector<CacheRecord>& records() const { return records_; }
  // Forgets every context's state and the records (between generations); keeps the configuration.
  void reset();

 private:
  CacheConfig config_;
  std::vector<std::string> block_names_;
  GroupSource cp_group_;
  StateManager<CacheContextState> states_;
  std::vector<CacheRecord> records_;
  std::optional<double> timestep_;
  std::optional<CacheStep> step_;
};

}  // namespace tessera
