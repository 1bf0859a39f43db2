// TeaCache: the change of an indicator at the first block (its timestep embedding, or its timestep-modulated
// input), rescaled by a fitted polynomial and accumulated over skipped steps, predicts how much the whole
// stack's output changes. Under the threshold every block is skipped and the stack's cached residual
// (rank-local shard; one per stream for a two-stream stack such as FLUX's) is added to its input.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

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

// FLUX's double-stream block: norm1 is diffusers' AdaLayerNormZero, whose linear projects SiLU(temb) to six
// vectors (shift_msa, scale_msa, ...); its modulated image input is TeaCache4FLUX's indicator.
at::Tensor ada_layer_norm_zero_input(const at::Tensor& hidden_states, const at::Tensor& weight,
                                     const at::Tensor& bias, const at::Tensor& temb) {
  const auto modulation = at::linear(at::silu(temb), weight, bias).chunk(6, 1);
  return at::layer_norm(hidden_states, {hidden_states.size(-1)}, std::nullopt, std::nullopt, 1e-6) *
             (1 + modulation[1].unsqueeze(1)) +
         modulation[0].unsqueeze(1);
}

// norm1(x) * (1 + scale_msa) + shift_msa, the input of the first self-attention, from the block's own
// modulation (Wan: its scale_shift_table and the `temb` argument, [B, 6, dim] or [B, S, 6, dim] per token; FLUX:
// norm1.linear applied to `temb`). A block with neither is indicated by its input itself.
at::Tensor modulated_input(Module& block, const Args& args) {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  const at::Tensor* temb = args.get_if<at::Tensor>("temb");
  if (temb == nullptr) return hidden_states;
  const auto parameters = block.named_parameters(true);
  const at::Tensor* table = parameters.find("scale_shift_table");
  const at::Tensor* norm1_weight = parameters.find("norm1.linear.weight");
  const at::Tensor* norm1_bias = parameters.find("norm1.linear.bias");
  if (table == nullptr && norm1_weight != nullptr && norm1_bias != nullptr) {
    return ada_layer_norm_zero_input(hidden_states, *norm1_weight, *norm1_bias, *temb);
  }
  if (table == nullptr) return hidden_states;
  const bool per_token = temb->dim() == 4;
  const at::Tensor modulation = (per_token ? table->unsqueeze(0) : *table) + temb->to(at::kFloat);
  at::Tensor shift = modulation.select(-2, 0), scale = modulation.select(-2, 1);
  if (!per_token) {
    shift = shift.unsqueeze(1);
    scale = scale.unsqueeze(1);
  }
  const at::Tensor normalized = at::layer_norm(hidden_states.to(at::kFloat), {hidden_states.size(-1)}, {}, {}, 1e-6);
  return normalized * (1 + scale) + shift;
}

class TeaCacheHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  Outputs new_forward(Module& module, Args& args) override {
    CacheContextState& state = session_->state();
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
  void decide(Module& module, const Args& args, CacheContextState& state) {
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
    const double accumulated =
        std::isnan(change) ? change : state.accumulated + rescale(config.coefficients, change);
    state.metric = accumulated;
    state.skip = session_->reuse_on_every_rank(!std::isnan(accumulated) && accumulated < config.threshold);
    state.accumulated = state.skip ? accumulated : 0;
    // TeaCache compares consecutive steps, skipped or not.
    state.reference = indicator;
  }
};

}  // namespace

std::shared_ptr<CacheHook> make_teacache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                              BlockStreams streams) {
  return std::make_shared<TeaCacheHook>(std::move(session), block, streams);
}

}  // namespace tessera
