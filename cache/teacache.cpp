// TeaCache: the change of an indicator at the first block (its timestep embedding, or its timestep-modulated
// input), rescaled by a fitted polynomial and accumulated over skipped steps, predicts how much the whole
// stack's output changes. Under the threshold every block is skipped and the stack's cached residual
// (rank-local shard; one per stream for a two-stream stack) is added to its input. The modulated-input
// indicator and the fitted coefficients come from the model (hooks/cache_inputs.h).
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <utility>

#include "cache/cache_hook.h"

namespace tessera {
namespace {

// numpy.poly1d order: highest power first. No coefficients: no rescaling.
double rescale(const std::vector<double>& coefficients, double x) {
  if (coefficients.empty()) return x;
  double value = 0;
  for (double c : coefficients) value = value * x + c;
  return value;
}

class TeaCacheHook : public CacheHook {
 public:
  TeaCacheHook(std::shared_ptr<CacheSession> session, int64_t block, BlockStreams streams,
               const DeclaresCacheInputs* inputs)
      : CacheHook(std::move(session), block, streams), inputs_(inputs) {}

  Outputs new_forward(Module& module, Args& args) override {
    auto& state = session_->state<TeaCacheState>();
    if (is_first()) decide(module, args, state);
    const Streams input = input_streams(args, streams_);
    if (state.skip) {
      session_->record(block_, BlockAction::skipped, state.metric);
      // The first block adds the whole stack's residuals; the others pass the streams through.
      return as_outputs(is_first() ? input + state.cached_residual : input, streams_);
    }
    if (is_first()) state.stack_start = input;
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, state.metric);
    if (is_last()) state.cached_residual = output_streams(outputs, streams_) - state.stack_start;
    return outputs;
  }

 private:
  void decide(Module& module, Args& args, TeaCacheState& state) {
    const auto& config = std::get<TeaCacheConfig>(session_->config());
    ++state.step;
    const at::Tensor* temb = args.get_if<at::Tensor>("temb");
    const at::Tensor indicator = config.indicator == TeaCacheIndicator::timestep_embedding && temb != nullptr
                                     ? temb->to(at::kFloat)
                                     : modulated_input(module, args);
    // Warmup and history are the same on every rank; shapes are compared inside relative_l1, collectively.
    const bool history = state.step >= config.warmup_steps && state.reference.defined() &&
                         state.cached_residual.defined();
    const double change =
        history ? session_->relative_l1(indicator, state.reference,
                                        same_shapes(state.cached_residual, input_streams(args, streams_)))
                : std::numeric_limits<double>::quiet_NaN();
    // enable_cache resolved a named fit to its list.
    const auto& coefficients = std::get<std::vector<double>>(config.coefficients);
    const double accumulated = std::isnan(change) ? change : state.accumulated + rescale(coefficients, change);
    state.metric = accumulated;
    state.skip = session_->reuse_on_every_rank(!std::isnan(accumulated) && accumulated < config.threshold);
    state.accumulated = state.skip ? accumulated : 0;
    // TeaCache compares consecutive steps, skipped or not.
    state.reference = indicator;
  }

  // The model computes it with the block's code and leaves it in `args` for the block's forward. A model that
  // declares no indicator is indicated by the block's input itself.
  at::Tensor modulated_input(Module& block, Args& args) const {
    return inputs_ != nullptr ? inputs_->modulated_input(block, args) : args.tensor("hidden_states");
  }

  // The model, which owns the hooks and so outlives them; null when it declares nothing.
  const DeclaresCacheInputs* inputs_;
};

}  // namespace

std::shared_ptr<CacheHook> make_teacache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                              BlockStreams streams, const DeclaresCacheInputs* inputs) {
  return std::make_shared<TeaCacheHook>(std::move(session), block, streams, inputs);
}

}  // namespace tessera
