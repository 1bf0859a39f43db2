// DBCache (cache-dit's Dual Block Cache): the first Fn blocks run every step, and the change of their residual since
// the last computed step decides whether the middle blocks run or add the residual they added then (forecast by
// cache-dit's TaylorSeer calibrator when taylorseer_order > 0); the last Bn blocks run every step, refining what the
// middle gave. A two-stream block stack caches and rebuilds both streams; the decision reads hidden_states, as
// cache-dit's does. Residuals and factors are rank-local shards; every decision is the group's.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "cache/cache_hook.h"
#include "common/check.h"

namespace tessera {
namespace {

// cache-dit's TaylorSeer state counts its own steps from -1 at its first update (step 0, which always computes) and
// takes differences only once that count is above 1: the first difference is taken at step 3.
constexpr int64_t kFirstDifferenceStep = 3;

class DBCacheHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  Outputs new_forward(Module& module, Args& args) override {
    const auto& config = std::get<DBCacheConfig>(session_->config());
    auto& state = session_->state<DBCacheState>();
    const int64_t middle_end = session_->num_blocks() - config.bn_compute_blocks;
    if (is_first()) begin_step(args, state);
    if (block_ < config.fn_compute_blocks) {
      Outputs outputs = module.original_forward(args);
      if (block_ == config.fn_compute_blocks - 1) decide(config, output_streams(outputs, streams_), state);
      session_->record(block_, BlockAction::computed, state.metric);
      return outputs;
    }
    if (block_ >= middle_end) {
      session_->record(block_, BlockAction::computed, state.metric);
      return module.original_forward(args);
    }
    const bool last_middle = block_ == middle_end - 1;
    if (state.skip) {
      const bool forecast = state.factors.size() > 1;
      session_->record(block_, forecast ? BlockAction::forecast : BlockAction::skipped, state.metric);
      const Streams input = input_streams(args, streams_);
      // Only the last middle block adds the residual; the ones before pass the streams through unchanged.
      return as_outputs(last_middle ? input + approximate(state) : input, streams_);
    }
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, state.metric);
    if (last_middle) update(state, output_streams(outputs, streams_) - state.stack_start, config.taylorseer_order);
    return outputs;
  }

 private:
  void begin_step(const Args& args, DBCacheState& state) {
    ++state.step;
    // A computed step ends the run of reused ones.
    if (state.last_cached_step != state.step - 1) state.continuous_cached_steps = 0;
    state.stack_input = args.tensor("hidden_states");
    state.metric = std::numeric_limits<double>::quiet_NaN();
  }

  // cache-dit's can_cache, in its order. Every condition before the measurement depends only on counts that are the
  // same on every rank, so all ranks reach relative_l1's all-reduce together or none does.
  void decide(const DBCacheConfig& config, const Streams& fn_output, DBCacheState& state) {
    const at::Tensor residual = fn_output.hidden_states - state.stack_input;
    state.stack_input = at::Tensor();
    const bool warmup = state.step < config.max_warmup_steps && state.step % config.warmup_interval == 0;
    const bool limited =
        (config.max_cached_steps >= 0 && state.cached_steps >= config.max_cached_steps) ||
        (config.max_continuous_cached_steps >= 0 && state.continuous_cached_steps >= config.max_continuous_cached_steps);
    const double threshold = config.residual_diff_threshold;
    // The cached residual must fit this step's shards (which can change on some ranks only).
    const bool fits = !state.factors.empty() && same_shapes(state.factors[0], fn_output);
    bool reuse_here = false;
    if (!warmup && !limited && threshold > 0 && state.reference.defined()) {
      if (threshold >= 1) {
        reuse_here = fits;  // cache-dit: always similar, nothing measured
      } else {
        state.metric = session_->relative_l1(residual, state.reference, fits);
        reuse_here = !std::isnan(state.metric) && state.metric < threshold;  // cache-dit: reuse when below
      }
    }
    state.skip = session_->reuse_on_every_rank(reuse_here);
    if (state.skip) {
      ++state.cached_steps;
      ++state.continuous_cached_steps;
      state.last_cached_step = state.step;
      return;
    }
    // The reference moves only on computed steps, so slow drift accumulates until it forces a compute.
    state.reference = residual;
    state.stack_start = fn_output;
  }

  // sum_i factor_i * d^i / i!, d the steps since the factors were computed (order 0: the residual as it was).
  static Streams approximate(const DBCacheState& state) {
    const double distance = static_cast<double>(state.step - state.factors_step);
    Streams value = state.factors[0];
    double weight = 1;
    for (size_t i = 1; i < state.factors.size(); ++i) {
      weight *= distance / static_cast<double>(i);
      value = value + state.factors[i] * weight;
    }
    return value;
  }

  // New factors [r, (r - old_0) / d, (new_1 - old_1) / d, ...] up to `order`, as many as the old ones allow, from
  // kFirstDifferenceStep on; a residual of another shape starts afresh.
  static void update(DBCacheState& state, const Streams& residual, int64_t order) {
    std::vector<Streams> updated{residual};
    const bool comparable = !state.factors.empty() && same_shapes(state.factors[0], residual);
    if (comparable && state.step >= kFirstDifferenceStep) {
      const double distance = static_cast<double>(state.step - state.factors_step);
      for (int64_t i = 0; i < order && static_cast<size_t>(i) < state.factors.size(); ++i) {
        updated.push_back((updated[i] - state.factors[i]) / distance);
      }
    }
    state.factors = std::move(updated);
    state.factors_step = state.step;
  }
};

}  // namespace

std::shared_ptr<CacheHook> make_db_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                              BlockStreams streams) {
  const auto& config = std::get<DBCacheConfig>(session->config());
  const int64_t blocks = session->num_blocks();
  TESSERA_CHECK(config.fn_compute_blocks + config.bn_compute_blocks < blocks, "dbcache: fn (",
                config.fn_compute_blocks, ") + bn (", config.bn_compute_blocks, ") leave no middle block to cache among ",
                "the ", blocks, " blocks of the stack; lower fn or bn (for example dbcache:fn=1,bn=0)");
  return std::make_shared<DBCacheHook>(std::move(session), block, streams);
}

}  // namespace tessera
