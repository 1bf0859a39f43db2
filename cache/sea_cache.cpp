// SeaCache: the head block decides for the whole stack from the change of a spectrally filtered copy of the
// model's raw latents (noted by a hook on the model, before any context-parallel split, so every rank filters
// the same whole latents). A skipped step adds to the head's input the residual predicted from the last
// computed steps (each rank's own shard) and hands on the text stream the last computed step ended with, as
// diffusers' hook does; the other blocks pass through.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "cache/cache_hook.h"
#include "common/check.h"

namespace tessera {
namespace {

// SeaCache's filter of one latent [frames, height, width, channels] (the channels last): per 3-D frequency the
// gain (1 - sigma) P / ((1 - sigma)^2 P + sigma^2) for a clean power P = 1 / |f|^power_exp per axis, the axes'
// gains multiplied and normalised to unit mean, in float32 as diffusers computes it.
at::Tensor sea_filter(const at::Tensor& latent, double sigma, double power_exp) {
  const at::Tensor x = latent.contiguous().to(at::kFloat);
  const std::vector<int64_t> dims{0, 1, 2};
  const at::Tensor spectrum = at::fft_fftn(x, c10::nullopt, dims);
  sigma = std::max(1e-6, std::min(1.0 - 1e-6, sigma));
  const double signal = 1.0 - sigma, noise = sigma;
  at::Tensor gain;
  for (const int64_t axis : dims) {
    const at::Tensor frequencies = at::fft_fftfreq(x.size(axis), 1.0, at::TensorOptions().dtype(at::kFloat));
    const at::Tensor clean = at::reciprocal(at::pow(frequencies.abs(), power_exp) + 1e-16);
    const at::Tensor axis_gain = clean * signal / (clean * (signal * signal) + noise * noise + 1e-16);
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[static_cast<size_t>(axis)] = axis_gain.size(0);
    gain = gain.defined() ? gain * axis_gain.reshape(shape) : axis_gain.reshape(shape);
  }
  const at::Tensor mean = gain.mean();
  const double mean_value = mean.item<double>();
  if (std::isfinite(mean_value) && mean_value > 0) gain = gain / mean;
  return at::real(at::fft_ifftn(spectrum * gain, c10::nullopt, dims)).to(latent.scalar_type());
}

// diffusers' distance: per latent mean|a - b| / (mean|b| + 1e-16) in float32, averaged over the latents.
// Infinity when the latents do not correspond.
double indicator_distance(const std::vector<at::Tensor>& current, const std::vector<at::Tensor>& previous) {
  if (current.empty() || current.size() != previous.size()) return std::numeric_limits<double>::infinity();
  double distance = 0;
  for (size_t i = 0; i < current.size(); ++i) {
    if (current[i].sizes() != previous[i].sizes() || current[i].scalar_type() != previous[i].scalar_type()) {
      return std::numeric_limits<double>::infinity();
    }
    const at::Tensor a = current[i].to(at::kFloat), b = previous[i].to(at::kFloat);
    const at::Tensor numerator = (a - b).abs().mean();
    const at::Tensor denominator = b.abs().mean() + 1e-16;
    distance += (numerator / denominator).item<double>();
  }
  return distance / static_cast<double>(current.size());
}

void reset_trajectory(SeaCacheState& state) {
  state.history.clear();
  state.previous_indicator.clear();
  state.last_step = -1;
  state.accumulated_distance = 0;
  state.consecutive_cached = 0;
}

class SeaCacheBlockHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  Outputs new_forward(Module& module, Args& args) override {
    auto& state = session_->state<SeaCacheState>();
    const Streams input = input_streams(args, streams_);
    if (is_first()) {
      state.stack_input = input.hidden_states;
      const std::optional<Streams> cached = decide(state);
      if (cached.has_value()) {
        session_->record(block_, BlockAction::skipped, state.metric);
        return as_outputs({input.hidden_states + cached->hidden_states, cached->encoder_hidden_states}, streams_);
      }
    } else if (state.skip) {
      session_->record(block_, BlockAction::skipped, state.metric);
      return as_outputs(input, streams_);
    }
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, state.metric);
    if (is_last()) remember(state, output_streams(outputs, streams_));
    return outputs;
  }

 private:
  const SeaCacheConfig& config() const { return std::get<SeaCacheConfig>(session_->config()); }

  // diffusers' gate (SeaCacheSharedState.resolve_gate) and the leader's reuse check. Returns the streams a
  // skipped step adds (hidden_states) and hands on (encoder_hidden_states); none when the step computes.
  std::optional<Streams> decide(SeaCacheState& state) {
    const auto step = session_->step();
    TESSERA_CHECK(step.has_value() && step->count > 0, "seacache needs the loop's step index, step count and sigma: ",
                  "call set_cache_step(model, {index, count, sigma}) before each step");
    TESSERA_CHECK(!state.raw_vision.empty(), "seacache needs the model's raw latents (DeclaresCacheInputs::",
                  "raw_vision), and this model call gave none");
    state.step = step->index;
    std::vector<at::Tensor> indicator;
    for (const at::Tensor& latent : state.raw_vision) {
      indicator.push_back(sea_filter(latent.movedim(0, -1), step->sigma, config().power_exp));
    }
    const bool non_adjacent = state.last_step >= 0 && step->index != state.last_step + 1;
    if (non_adjacent) reset_trajectory(state);
    const bool at_limit = config().max_consecutive_cached > 0 && state.consecutive_cached >= config().max_consecutive_cached;
    const bool forced = non_adjacent || step->index < config().retention_steps ||
                        step->index >= step->count - config().cache_end_steps || state.previous_indicator.empty() ||
                        at_limit;
    bool compute = true;
    double candidate = 0;
    if (!forced) {
      const double distance = indicator_distance(indicator, state.previous_indicator);
      candidate = state.accumulated_distance + distance;
      compute = !std::isfinite(distance) || candidate >= config().threshold;
    }
    state.metric = forced ? std::numeric_limits<double>::quiet_NaN() : candidate;
    state.accumulated_distance = compute ? 0 : candidate;
    state.last_step = step->index;
    state.previous_indicator = std::move(indicator);

    // The residual to add: the last computed one, or with residual_order 1 the line through the last two.
    std::optional<Streams> cached;
    if (!compute && !state.history.empty()) {
      const size_t keep = std::min(state.history.size(), static_cast<size_t>(config().residual_order + 1));
      const auto first = state.history.end() - static_cast<std::ptrdiff_t>(keep);
      const bool fits = std::all_of(first, state.history.end(), [&](const SeaCacheState::Computed& computed) {
        return computed.residual.sizes() == state.stack_input.sizes();
      });
      if (fits) {
        const SeaCacheState::Computed& latest = state.history.back();
        at::Tensor residual = latest.residual;
        if (config().residual_order == 1 && keep >= 2) {
          const SeaCacheState::Computed& before = *(state.history.end() - 2);
          if (latest.step != before.step) {
            const double scale = static_cast<double>(step->index - latest.step) /
                                 static_cast<double>(latest.step - before.step);
            residual = latest.residual + (latest.residual - before.residual) * scale;
          }
        }
        cached = Streams{residual, latest.encoder_output};
      } else {
        state.history.clear();  // a residual of another shard shape: this rank computes, and so every rank does
      }
    }
    state.skip = session_->reuse_on_every_rank(cached.has_value());
    if (!state.skip) {
      if (!compute) state.accumulated_distance = 0;  // wanted to reuse but computes: as diffusers' fail-open
      return std::nullopt;
    }
    state.consecutive_cached += 1;
    return cached;
  }

  // After a computed step's last block: its residual (and text-stream output) joins the history.
  void remember(SeaCacheState& state, const Streams& output) {
    state.consecutive_cached = 0;
    if (output.hidden_states.sizes() != state.stack_input.sizes()) return;
    at::Tensor encoder = output.encoder_hidden_states.defined() ? output.encoder_hidden_states.clone() : at::Tensor();
    state.history.push_back({state.step, std::move(encoder), output.hidden_states - state.stack_input});
    const auto keep = static_cast<size_t>(config().residual_order + 1);
    if (state.history.size() > keep) state.history.erase(state.history.begin(), state.history.end() - keep);
  }
};

// On the model: notes the call's raw latents before the context-parallel plan splits the arguments (hooks run
// their pre_forward in name order, "cache" before "context_parallel.plan"), and forgets them after the call.
class SeaCacheModelHook : public CacheHook {
 public:
  SeaCacheModelHook(std::shared_ptr<CacheSession> session, int64_t block, const DeclaresCacheInputs& inputs)
      : CacheHook(std::move(session), block), inputs_(inputs) {}

  bool overrides_forward() const override { return false; }

  void pre_forward(Module& /*module*/, Args& args) override {
    auto& state = session_->state<SeaCacheState>();
    state.raw_vision = inputs_.raw_vision(args);
    state.skip = false;
  }

  void post_forward(Module& /*module*/, Outputs& /*outputs*/) override {
    auto& state = session_->state<SeaCacheState>();
    state.raw_vision.clear();
    state.stack_input = at::Tensor();
    state.skip = false;
  }

 private:
  const DeclaresCacheInputs& inputs_;  // the model, which owns the hooks
};

}  // namespace

std::shared_ptr<CacheHook> make_sea_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                               BlockStreams streams) {
  return std::make_shared<SeaCacheBlockHook>(std::move(session), block, streams);
}

std::shared_ptr<CacheHook> make_sea_cache_model_hook(std::shared_ptr<CacheSession> session,
                                                     const DeclaresCacheInputs& inputs) {
  const int64_t index = session->num_blocks();
  return std::make_shared<SeaCacheModelHook>(std::move(session), index, inputs);
}

}  // namespace tessera
