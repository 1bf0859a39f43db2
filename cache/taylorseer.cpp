// TaylorSeer: every block's residual (output - input) is a smooth function of the step, so between full steps
// it is forecast by a Taylor expansion around the last computed step, with the derivatives approximated by
// finite differences of the residuals of the computed steps (or, with forecast_residual off, the block's
// output itself, as diffusers' TaylorSeer forecasts its hooked modules' outputs). The schedule depends on the
// step count only; the decision is still taken collectively, since a rank may lack usable factors (its shard
// changed shape). The factors are rank-local shards, one set per stream of a two-stream block.
#include <ATen/ATen.h>

#include <limits>

#include "cache/cache_hook.h"

namespace tessera {
namespace {

class TaylorSeerHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  Outputs new_forward(Module& module, Args& args) override {
    const auto& config = std::get<TaylorSeerConfig>(session_->config());
    auto& state = session_->state<TaylorSeerState>();
    if (is_first()) {
      ++state.step;
      const bool stopped = config.stop_after_step >= 0 && state.step >= config.stop_after_step;
      // diffusers' schedule: the step right after the warm-up already forecasts; then one step in `interval`
      // computes.
      const bool scheduled = !stopped && state.step >= config.warmup_steps &&
                             (state.step - config.warmup_steps - 1) % config.interval != 0;
      // A forecast needs factors of this shape; shard shapes can change on some ranks only.
      const auto& first = state.factors[0];
      const bool usable_here = !first.empty() && same_shapes(first[0], input_streams(args, streams_));
      state.skip = session_->reuse_on_every_rank(scheduled && usable_here);
      // Scheduled but refused: some rank's factors do not fit. Every rank restarts its factors, as one rank
      // does on a new shape, so that all keep expansions of the same order.
      if (scheduled && !state.skip) {
        for (auto& factors : state.factors) factors.clear();
      }
      state.metric = std::numeric_limits<double>::quiet_NaN();
    }
    auto& factors = state.factors[block_];
    const Streams input = input_streams(args, streams_);
    const bool usable = !factors.empty() && same_shapes(factors[0], input);
    if (state.skip && usable) {
      session_->record(block_, BlockAction::forecast, state.metric);
      const double distance = static_cast<double>(state.step - state.factors_step[block_]);
      Streams forecast = factors[0];
      double weight = 1;
      for (size_t i = 1; i < factors.size(); ++i) {
        weight *= distance / static_cast<double>(i);  // distance^i / i!
        forecast = forecast + factors[i] * weight;
      }
      forecast = to_dtype_of(forecast, input);
      return as_outputs(config.forecast_residual ? input + forecast : forecast, streams_);
    }
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, state.metric);
    const Streams output = output_streams(outputs, streams_);
    const Streams forecast_target = config.forecast_residual ? output - input : output;
    update(factors, state.factors_step[block_], usable, forecast_target, state.step, config.order);
    return outputs;
  }

 private:
  // New factors: [r, (r - old[0]) / d, (new[1] - old[1]) / d, ...], as many as the old ones allow, up to `order`.
  static void update(std::vector<Streams>& factors, int64_t& factors_step, bool usable, const Streams& residual,
                     int64_t step, int64_t order) {
    std::vector<Streams> updated{residual};
    if (usable && step > factors_step) {
      const double distance = static_cast<double>(step - factors_step);
      for (int64_t i = 0; i < order && static_cast<size_t>(i) < factors.size(); ++i) {
        updated.push_back((updated[i] - factors[i]) / distance);
      }
    }
    factors = std::move(updated);
    factors_step = step;
  }
};

}  // namespace

std::shared_ptr<CacheHook> make_taylorseer_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                                BlockStreams streams) {
  return std::make_shared<TaylorSeerHook>(std::move(session), block, streams);
}

}  // namespace tessera
