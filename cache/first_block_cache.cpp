// First Block Cache: block 0 runs, and its residual decides whether blocks 1..N-1 run or are replaced by the
// residual they added at the last computed step (rank-local shard, like the hidden states). A two-stream block
// stack caches the residual of each stream; the decision reads the hidden_states stream, as diffusers'.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "cache/cache_hook.h"

namespace tessera {
namespace {

class FirstBlockCacheHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  Outputs new_forward(Module& module, Args& args) override {
    auto& state = session_->state<FirstBlockCacheState>();
    if (is_first()) return head(module, args, state);
    if (state.skip) {
      session_->record(block_, BlockAction::skipped, state.metric);
      const Streams input = input_streams(args, streams_);
      // Only the last block adds the cached residuals; the ones before pass the streams through unchanged.
      return as_outputs(is_last() ? input + state.cached_residual : input, streams_);
    }
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, state.metric);
    if (is_last()) state.cached_residual = output_streams(outputs, streams_) - state.stack_start;
    return outputs;
  }

 private:
  Outputs head(Module& module, Args& args, FirstBlockCacheState& state) {
    ++state.step;
    const at::Tensor input = args.tensor("hidden_states");
    Outputs outputs = module.original_forward(args);
    const Streams output = output_streams(outputs, streams_);
    const at::Tensor residual = output.hidden_states - input;
    const double threshold = std::get<FirstBlockCacheConfig>(session_->config()).threshold;
    // `history` is the same on every rank (set at the same steps), so either all ranks enter the all-reduce
    // in relative_l1 or none; shard shapes are compared inside it, collectively: the residual's with the
    // reference's, and every stream's with its cached residual's (the text shard may change alone).
    const bool history = state.reference.defined() && state.cached_residual.defined() && session_->num_blocks() > 1;
    state.metric = history ? session_->relative_l1(residual, state.reference,
                                                   same_shapes(state.cached_residual, output))
                           : std::numeric_limits<double>::quiet_NaN();
    const bool skip_here = !std::isnan(state.metric) && state.metric <= threshold;  // diffusers: compute when above
    state.skip = session_->reuse_on_every_rank(skip_here);
    // The reference moves only on computed steps, so slow drift accumulates until it forces a compute.
    if (!state.skip) {
      state.reference = residual;
      state.stack_start = output;
    }
    session_->record(block_, BlockAction::computed, state.metric);
    return outputs;
  }
};

}  // namespace

std::shared_ptr<CacheHook> make_first_block_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                                       BlockStreams streams) {
  return std::make_shared<FirstBlockCacheHook>(std::move(session), block, streams);
}

}  // namespace tessera
