// FasterCache (see FasterCacheConfig): attention outputs are extrapolated from their last two values between
// computed calls, and the unconditional CFG branch is rebuilt from the conditional one in frequency space.
// Every decision depends on the timestep, call counters, the batch size and shard shapes, and is taken
// collectively (a rank may see another timestep or shape); the cached attention outputs are rank-local shards,
// and the model's output, where the CFG branch is rebuilt, is whole on every rank (the context-parallel plan
// gathers it before the model returns).
#include <ATen/ATen.h>

#include <regex>

#include "cache/cache_hook.h"
#include "cache/forward_agreement.h"
#include "cache/frequency_split.h"
#include "common/check.h"

namespace tessera {
namespace {

bool in_open_range(const std::pair<int64_t, int64_t>& range, double timestep) {
  return static_cast<double>(range.first) < timestep && timestep < static_cast<double>(range.second);
}

const FasterCacheConfig& faster_cache_config(const CacheSession& session) {
  return std::get<FasterCacheConfig>(session.config());
}

double current_timestep(const CacheSession& session) {
  return session.current_timestep(faster_cache_config(session).current_timestep_callback, "faster_cache");
}

// The conditional half of an output of the full [uncond, cond] batch; other outputs as they are.
at::Tensor conditional_part(const at::Tensor& output, int64_t full_batch, bool guidance_distilled) {
  if (guidance_distilled || output.size(0) != full_batch) return output;
  return output.chunk(2, 0)[1];
}

class FasterCacheAttentionHook : public CacheHook {
 public:
  FasterCacheAttentionHook(std::shared_ptr<CacheSession> session, int64_t index, std::string path, bool temporal)
      : CacheHook(std::move(session), index), path_(std::move(path)), temporal_(temporal) {}

  Outputs new_forward(Module& module, Args& args) override {
    const FasterCacheConfig& config = faster_cache_config(*session_);
    const int64_t skip_range =
        temporal_ ? config.temporal_attention_block_skip_range : config.spatial_attention_block_skip_range;
    const auto& timestep_range =
        temporal_ ? config.temporal_attention_timestep_skip_range : config.spatial_attention_timestep_skip_range;
    const double timestep = current_timestep(*session_);
    auto& state = session_->state<FasterCacheState>();
    int64_t& calls = state.attention_calls[block_];
    std::vector<at::Tensor>& last = state.attention_outputs[block_];
    std::vector<at::Tensor>& before_last = state.previous_attention_outputs[block_];
    const at::Tensor& hidden_states = args.tensor("hidden_states");
    const int64_t batch = hidden_states.size(0);
    int64_t& full_batch = state.full_batch_sizes[block_];
    if (full_batch == 0) full_batch = batch;  // the first call runs the whole batch

    bool extrapolate_here = in_open_range(timestep_range, timestep) && !(calls > 0 && calls % skip_range == 0);
    // Only the conditional outputs are cached, so only a conditional-only call can be served from them.
    extrapolate_here = extrapolate_here && !last.empty() && (config.is_guidance_distilled || batch != full_batch);
    // Shard shapes can change on some ranks only: outputs of another shape cannot be extrapolated.
    extrapolate_here = extrapolate_here && last[0].size(0) == batch && outputs_fit_call(last, args);
    const bool extrapolate = state.calls_agree ? extrapolate_here : session_->reuse_on_every_rank(extrapolate_here);

    Outputs outputs;
    if (extrapolate) {
      const double weight = config.attention_weight_callback ? config.attention_weight_callback(path_) : 0.5;
      for (size_t i = 0; i < last.size(); ++i) outputs.push_back(last[i] + (last[i] - before_last[i]) * weight);
    } else {
      outputs = module.original_forward(args);
    }
    std::vector<at::Tensor> cached;
    for (const at::Tensor& output : outputs) {
      cached.push_back(conditional_part(output, full_batch, config.is_guidance_distilled));
    }
    before_last = last.empty() ? cached : last;
    last = std::move(cached);
    ++calls;
    session_->record(block_, extrapolate ? BlockAction::skipped : BlockAction::computed, timestep);
    return outputs;
  }

 private:
  std::string path_;
  bool temporal_;
};

// On the model itself: counts the steps, runs the conditional half alone when the unconditional branch can be
// rebuilt, and rebuilds it. Pre/post hooks, not a forward replacement, so that it composes with the
// context-parallel hook on the same module.
class FasterCacheDenoiserHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  bool overrides_forward() const override { return false; }

  void pre_forward(Module& /*module*/, Args& args) override {
    const FasterCacheConfig& config = faster_cache_config(*session_);
    auto& state = session_->state<FasterCacheState>();
    ++state.step;
    const double timestep = current_timestep(*session_);
    const bool conditional_only_here =
        !config.is_guidance_distilled && state.step > 0 &&
        in_open_range(config.unconditional_batch_timestep_skip_range, timestep) &&
        state.step % config.unconditional_batch_skip_range != 0 && state.low_frequency_delta.defined();
    // One collective per forward decides both the branch and whether the attention calls may decide locally.
    const bool was_conditional_only = state.conditional_only;
    state.conditional_only =
        agree_at_model_entry(state, args, session_->cp_group().get(), timestep, conditional_only_here).reuse;
    // Running the conditional half alone halves the attention calls' batch: a change of shape, too.
    state.calls_agree = state.calls_agree && state.conditional_only == was_conditional_only;
    if (!state.conditional_only) return;
    for (const std::string& name : config.unconditional_conditional_input_kwargs_identifiers) {
      const at::Tensor* input = args.get_if<at::Tensor>(name);
      if (input == nullptr || input->dim() == 0) continue;
      check_cfg_batch(*input, name);
      args.set(name, input->chunk(2, 0)[1]);
    }
  }

  void post_forward(Module& /*module*/, Outputs& outputs) override {
    const FasterCacheConfig& config = faster_cache_config(*session_);
    if (config.is_guidance_distilled) return;
    auto& state = session_->state<FasterCacheState>();
    const double timestep = current_timestep(*session_);
    const at::Tensor output = outputs.at(0);
    // The unconditional branch is rebuilt in the frequency space of frames; a model whose output is a token
    // sequence (packed latents [B, N, C]) has no frames to transform, and a guidance-distilled model runs no
    // unconditional branch anyway.
    const int64_t frame_dims = config.tensor_format == "BCHW" ? 4 : 5;
    TESSERA_CHECK(output.dim() == frame_dims, "faster_cache rebuilds the unconditional branch from frames ",
                  config.tensor_format, ", but the model's output 0 has ", output.dim(), " dimensions (",
                  output.sizes(), "); set is_guidance_distilled (--cache fastercache:distilled=true) for a model ",
                  "whose output is a token sequence (packed latents), to keep the attention reuse alone");
    if (state.conditional_only) {
      state.low_frequency_delta = state.low_frequency_delta * weight(config.low_frequency_weight_callback,
                                                                     config.low_frequency_weight_update_timestep_range,
                                                                     config.alpha_low_frequency, timestep);
      state.high_frequency_delta =
          state.high_frequency_delta * weight(config.high_frequency_weight_callback,
                                              config.high_frequency_weight_update_timestep_range,
                                              config.alpha_high_frequency, timestep);
      // The split matters only for the weights: the conditional spectrum enters whole.
      const at::Tensor unconditional =
          frames_from_spectrum(state.low_frequency_delta + state.high_frequency_delta +
                               shifted_spectrum(to_frames(output, config.tensor_format)));
      outputs[0] = at::cat({from_frames(unconditional, config.tensor_format, output.size(0)).to(output.dtype()),
                            output});
    } else {
      check_cfg_batch(output, "output 0");
      // The transform is linear: one spectrum of the difference gives low(uncond) - low(cond) and the same for high.
      const auto halves = output.to(at::kFloat).chunk(2, 0);
      const FrequencyParts difference = split_frequency(to_frames(halves[0] - halves[1], config.tensor_format));
      state.low_frequency_delta = difference.low;
      state.high_frequency_delta = difference.high;
    }
    session_->record(block_, state.conditional_only ? BlockAction::skipped : BlockAction::computed, timestep);
  }

 private:
  static void check_cfg_batch(const at::Tensor& tensor, const std::string& name) {
    TESSERA_CHECK(tensor.size(0) % 2 == 0, "faster_cache expects the model to run the CFG batch [uncond, cond] ",
                  "concatenated on dim 0, but ", name, " has batch ", tensor.size(0),
                  "; run classifier-free guidance as one batch, or set is_guidance_distilled for a model without "
                  "an unconditional branch");
  }

  double weight(const std::function<double(const std::string&)>& callback, const std::pair<int64_t, int64_t>& range,
                double alpha, double timestep) const {
    if (callback) return callback("");
    return in_open_range(range, timestep) ? alpha : 1.0;
  }
};

bool matches_any(const std::vector<std::string>& identifiers, const std::string& path) {
  for (const std::string& identifier : identifiers) {
    std::regex pattern;
    try {
      pattern = std::regex(identifier, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
      TESSERA_CHECK(false, "faster_cache block identifier \"", identifier, "\" is not a valid regex: ", error.what());
    }
    if (std::regex_search(path, pattern)) return true;
  }
  return false;
}

}  // namespace

std::vector<AttentionTarget> faster_cache_targets(Module& model, const FasterCacheConfig& config) {
  std::vector<AttentionTarget> targets;
  for (const auto& [path, module] : model.all_modules()) {
    if (module->role() != ModuleRole::self_attention) continue;
    if (config.spatial_attention_block_skip_range > 0 &&
        matches_any(config.spatial_attention_block_identifiers, path)) {
      targets.push_back({path, module, AttentionKind::spatial});
    } else if (config.temporal_attention_block_skip_range > 0 &&
               matches_any(config.temporal_attention_block_identifiers, path)) {
      targets.push_back({path, module, AttentionKind::temporal});
    }
  }
  return targets;
}

std::shared_ptr<CacheHook> make_faster_cache_attention_hook(std::shared_ptr<CacheSession> session, int64_t index,
                                                            const AttentionTarget& target) {
  return std::make_shared<FasterCacheAttentionHook>(std::move(session), index, target.path,
                                                    target.kind == AttentionKind::temporal);
}

std::shared_ptr<CacheHook> make_faster_cache_denoiser_hook(std::shared_ptr<CacheSession> session, int64_t index) {
  return std::make_shared<FasterCacheDenoiserHook>(std::move(session), index);
}

}  // namespace tessera
