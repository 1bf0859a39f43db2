#pragma once
// What each cache method remembers of one context (a CFG branch) between steps: one struct per method. The
// session holds the one its configuration selects (CacheContextState, in the order of CacheConfig's
// alternatives); a method's hooks reach only their own. Per-block vectors have one entry per block (or hooked
// attention module) of the session from the start.
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "cache/block_streams.h"
#include "cache/cache_config.h"

namespace tessera {

// Every method: the current step (counted where the method sees a step begin), and its decision value of this
// step, recorded with every block.
struct StepState {
  int64_t step = -1;
  double metric = 0;
};

// The stack caches: block 0 decides for the whole stack each step, and a skipped stack adds the residual it
// added at the last computed step.
struct StackReuseState : StepState {
  bool skip = false;        // the blocks after the decision are skipped this step
  at::Tensor reference;     // what the decision compares against (the method says what)
  Streams stack_start;      // this step's streams where the cached span starts
  Streams cached_residual;  // last computed step: the streams out of the last block - stack_start
};

// reference: the first block's residual at the last computed step.
struct FirstBlockCacheState : StackReuseState {};

// reference: the indicator of the previous step, skipped or not.
struct TeaCacheState : StackReuseState {
  double accumulated = 0;  // the rescaled change accumulated over the steps skipped since the last computed one
};

struct TaylorSeerState : StepState {
  explicit TaylorSeerState(size_t blocks) : factors(blocks), factors_step(blocks, -1) {}
  bool skip = false;  // this step forecasts
  // Per block: Taylor factors (value, first difference, ...) per stream, and the step they were computed at.
  std::vector<std::vector<Streams>> factors;
  std::vector<int64_t> factors_step;
};

// The attention caches, per hooked attention module: calls so far and the last output kept, and
// (forward_agreement.h) the model's input shapes at this context's last forward and whether this forward's
// attention calls may decide locally.
struct AttentionReuseState : StepState {
  explicit AttentionReuseState(size_t modules) : attention_calls(modules, 0), attention_outputs(modules) {}
  std::vector<int64_t> attention_calls;
  std::vector<std::vector<at::Tensor>> attention_outputs;
  std::vector<int64_t> input_signature;
  bool calls_agree = false;
};

// attention_outputs: the last computed output of each module.
struct PyramidAttentionBroadcastState : AttentionReuseState {
  using AttentionReuseState::AttentionReuseState;
};

// attention_outputs: the conditional part of each module's last output, and below the one before it and the
// batch size of the first call (the full [uncond, cond] batch); for the model, whether this step runs the
// conditional half alone, and the last measured uncond - cond differences in shifted frequency space.
struct FasterCacheState : AttentionReuseState {
  explicit FasterCacheState(size_t modules)
      : AttentionReuseState(modules), previous_attention_outputs(modules), full_batch_sizes(modules, 0) {}
  std::vector<std::vector<at::Tensor>> previous_attention_outputs;
  std::vector<int64_t> full_batch_sizes;
  bool conditional_only = false;
  at::Tensor low_frequency_delta, high_frequency_delta;
};

// MagCache: stack_start is the head block's input, cached_residual (image stream only, as diffusers) the residual
// of the last computed step. `step` counts the context's steps from 0 and starts again after the step count.
// The accumulators are float32, as diffusers' are (its ratios are a float32 tensor, so is every product).
struct MagCacheState : StackReuseState {
  float accumulated_ratio = 1;
  float accumulated_error = 0;
  int64_t accumulated_steps = 0;
  std::vector<double> calibration;  // calibrate=true: the ratio of each step so far
};

// SeaCache: the step comes from the loop (set_cache_step). The indicator of the last step, the accumulated
// distance, and the residuals (image stream) and text-stream outputs of the last computed steps.
struct SeaCacheState : StepState {
  struct Computed {
    int64_t step = 0;
    at::Tensor encoder_output;  // undefined for a one-stream block
    at::Tensor residual;
  };
  std::vector<Computed> history;
  std::vector<at::Tensor> previous_indicator;
  int64_t last_step = -1;  // the step the last decision was for (-1: none yet)
  double accumulated_distance = 0;
  int64_t consecutive_cached = 0;
  bool skip = false;
  at::Tensor stack_input;                 // this step's input of the head block
  std::vector<at::Tensor> raw_vision;     // this forward's raw latents, noted by the model hook
};

// DBCache (db_cache.cpp). reference: the Fn residual at the last computed step; stack_start: this step's streams
// into the middle blocks; cached_residual unused: the middle residual is factors[0]. Taylor factors of the middle
// residual per stream (order 0: the residual alone) and the step they were computed at; the steps reused so far and
// in the current run.
struct DBCacheState : StackReuseState {
  at::Tensor stack_input;  // this step's hidden_states into block 0
  std::vector<Streams> factors;
  int64_t factors_step = -1;
  int64_t cached_steps = 0;
  int64_t continuous_cached_steps = 0;
  int64_t last_cached_step = -1;
};

using CacheContextState = std::variant<FirstBlockCacheState, TeaCacheState, TaylorSeerState,
                                       PyramidAttentionBroadcastState, FasterCacheState, MagCacheState,
                                       SeaCacheState, DBCacheState>;
static_assert(std::variant_size_v<CacheContextState> == std::variant_size_v<CacheConfig>,
              "one state per cache method, in the order of CacheConfig");

// A context's fresh state for the method `config` selects, over `blocks` blocks (or attention modules).
CacheContextState fresh_cache_state(const CacheConfig& config, size_t blocks);

}  // namespace tessera
