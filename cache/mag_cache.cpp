// MagCache: the head block decides for the whole stack from the calibrated magnitude ratios alone (the same
// numbers on every rank; the decision still goes through reuse_on_every_rank). A skipped step adds the last
// computed residual of the image stream to the head's input and passes the text stream through, as diffusers'
// hook does; the residual is each rank's own shard. Calibration measures the ratio at the last block, its mean
// over tokens reduced over the context-parallel group.
#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "cache/cache_hook.h"
#include "cache/enable_cache.h"
#include "cache/mag_cache_ratios.h"
#include "common/check.h"
#include "parallel/communicator.h"

namespace tessera {
namespace {

void restart_accumulation(MagCacheState& state) {
  state.accumulated_ratio = 1;
  state.accumulated_error = 0;
  state.accumulated_steps = 0;
}

class MagCacheHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  Outputs new_forward(Module& module, Args& args) override {
    auto& state = session_->state<MagCacheState>();
    if (is_first()) decide(args, state);
    const Streams input = input_streams(args, streams_);
    if (state.skip) {
      session_->record(block_, BlockAction::skipped, state.metric);
      if (!is_first()) return as_outputs(input, streams_);
      return as_outputs({input.hidden_states + state.cached_residual.hidden_states, input.encoder_hidden_states},
                        streams_);
    }
    if (is_first()) state.stack_start = input;
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, state.metric);
    if (is_last()) {
      const at::Tensor residual = output_streams(outputs, streams_).hidden_states - state.stack_start.hidden_states;
      if (config().calibrate) state.calibration.push_back(magnitude_ratio(residual, state.cached_residual.hidden_states));
      state.cached_residual = {residual, {}};
    }
    return outputs;
  }

 private:
  const MagCacheConfig& config() const { return std::get<MagCacheConfig>(session_->config()); }

  int64_t step_count() const {
    if (config().num_inference_steps > 0) return config().num_inference_steps;
    const auto step = session_->step();
    TESSERA_CHECK(step.has_value() && step->count > 0, "magcache needs the generation's step count: give it as ",
                  "steps=N, or call set_cache_step(model, {index, count, sigma}) before each step");
    return step->count;
  }

  void decide(const Args& args, MagCacheState& state) {
    const int64_t steps = step_count();
    // diffusers starts over once the step count is reached (its tail hook, after the last step).
    if (++state.step >= steps) {
      state = MagCacheState{};
      state.step = 0;
    }
    bool skip_here = false;
    if (!config().calibrate) {
      // enable_cache resolved named ratios to numbers.
      const std::vector<float> ratios =
          magcache_ratios_for_steps(std::get<std::vector<double>>(config().ratios), steps);
      const float scale = state.step < static_cast<int64_t>(ratios.size()) ? ratios[state.step] : 1.0F;
      // Python's int() of a positive number: the floor.
      const auto retention = static_cast<int64_t>(config().retention_ratio * static_cast<double>(steps) + 0.5);
      if (state.step >= retention) {
        state.accumulated_ratio *= scale;
        state.accumulated_steps += 1;
        state.accumulated_error += std::fabs(1.0F - state.accumulated_ratio);
        skip_here = state.cached_residual.defined() &&
                    state.accumulated_error <= static_cast<float>(config().threshold) &&
                    state.accumulated_steps <= config().max_skip_steps;
        if (!skip_here) restart_accumulation(state);
      }
    }
    state.metric = state.accumulated_error;
    // A residual of another shard shape cannot serve this step; that rank computes, and so every rank does.
    const bool fits = state.cached_residual.defined() &&
                      state.cached_residual.hidden_states.sizes() == args.tensor("hidden_states").sizes();
    state.skip = session_->reuse_on_every_rank(skip_here && fits);
    if (skip_here && !state.skip) restart_accumulation(state);  // computed after all: as diffusers' compute branch
  }

  // The mean over tokens of |residual| / |previous residual| (norms over the channels), over the whole
  // sequence: sums and counts reduced over the context-parallel group. 1 at the first step.
  double magnitude_ratio(const at::Tensor& residual, const at::Tensor& previous) const {
    if (!previous.defined()) return 1.0;
    const at::Tensor current_norm = at::linalg_vector_norm(residual.to(at::kFloat), 2, {-1});
    const at::Tensor previous_norm = at::linalg_vector_norm(previous.to(at::kFloat), 2, {-1});
    const at::Tensor ratio = current_norm / (previous_norm + 1e-8);
    at::Tensor sums = at::stack({ratio.sum().to(at::kDouble),
                                 at::scalar_tensor(static_cast<double>(ratio.numel()), at::kDouble)})
                          .cpu();
    const std::shared_ptr<Communicator> group = session_->cp_group();
    if (group != nullptr && group->size() > 1) sums = group->all_reduce(sums, ReduceOp::sum).cpu();
    return sums[0].item<double>() / sums[1].item<double>();
  }
};

}  // namespace

std::shared_ptr<CacheHook> make_mag_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                               BlockStreams streams) {
  return std::make_shared<MagCacheHook>(std::move(session), block, streams);
}

std::vector<std::pair<std::string, std::vector<double>>> magcache_calibration(HookableModel& model) {
  const auto session = cache_session(model);
  TESSERA_CHECK(std::holds_alternative<MagCacheConfig>(session->config()) &&
                    std::get<MagCacheConfig>(session->config()).calibrate,
                "magcache_calibration needs a MagCache enabled with calibrate=true, not ",
                cache_method_name(session->config()));
  StateManager<CacheContextState>& states = session->states();
  const std::string current = states.context();
  std::vector<std::pair<std::string, std::vector<double>>> contexts;
  for (const std::string& name : states.contexts()) {
    states.set_context(name);
    contexts.emplace_back(name, std::get<MagCacheState>(states.get_state()).calibration);
  }
  states.set_context(current);
  return contexts;
}

}  // namespace tessera
