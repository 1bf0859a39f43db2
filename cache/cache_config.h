#pragma once
// The configurations of the block caches, with the defaults of diffusers (reference/diffusers_cache_methods_zh.txt)
// or, where diffusers has no such method, of the method's paper/reference implementation.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hooks/magcache_ratios.h"
#include "hooks/teacache_fit.h"

namespace tessera {

// Where the cache hooks go: empty, the block stack the model declares (hooks/block_stack.h); else
// ";"-separated patterns whose matches, in order, are the blocks the model runs one after the other.
inline constexpr const char* kDefaultCacheBlocks = "";

// First Block Cache (ParaAttention / diffusers FirstBlockCacheConfig): run the first block; when its residual
// changed by at most `threshold` (relative L1, sum|r - r_prev| / sum|r_prev|) since the last computed step,
// reuse the cached residual of the remaining blocks instead of running them.
struct FirstBlockCacheConfig {
  double threshold = 0.05;  // diffusers' default
  std::string blocks = kDefaultCacheBlocks;
};

// The rescaling polynomial: explicit coefficients (numpy.poly1d order, highest power first; empty: no
// rescaling) or the name of a fit the model carries (DeclaresCacheInputs::teacache_fits), resolved by
// enable_cache for the config's indicator. kModelTeaCacheFit names the model's own fit; a model that carries
// none for the indicator gets no rescaling, any other name it lacks is refused.
using TeaCacheCoefficients = std::variant<std::vector<double>, std::string>;

// TeaCache (Liu et al. 2024, arXiv 2411.19108): accumulate the rescaled relative L1 change (between consecutive
// steps) of an indicator computed at the first block; while the accumulation stays under `threshold` skip every
// block and reuse the cached residual of the whole stack, else compute and reset the accumulation.
struct TeaCacheConfig {
  // The reference's default threshold (teacache_generate.py: 0.1 about 2x, 0.2 about 3x).
  double threshold = 0.2;
  // The model's own fit by default; `{}` (an empty list) is no rescaling.
  TeaCacheCoefficients coefficients = std::string(kModelTeaCacheFit);
  // Steps that always compute, counted from the first call in a context (the reference's 5 retention steps).
  int64_t warmup_steps = 5;
  std::string blocks = kDefaultCacheBlocks;
  TeaCacheIndicator indicator = TeaCacheIndicator::timestep_embedding;
};

// TaylorSeer (Liu et al. 2025, arXiv 2503.06923; defaults and step schedule of diffusers' TaylorSeerCacheConfig):
// the first warmup_steps steps compute; after them one step in `interval` computes, starting at warmup_steps + 1
// (so the step right after the warm-up is already a forecast); in between each block is forecast by a Taylor
// expansion of order `order` whose derivatives are finite differences of the last computed steps.
struct TaylorSeerConfig {
  int64_t order = 1;         // max_order
  int64_t interval = 5;      // cache_interval
  int64_t warmup_steps = 3;  // disable_cache_before_step: the first steps always compute
  int64_t stop_after_step = -1;  // disable_cache_after_step: from this step on always compute (-1: never)
  std::string blocks = kDefaultCacheBlocks;
  // What is forecast: the block's residual (output - input), added to the step's actual block input, or, when
  // false, the block's output itself, which is what diffusers does for the modules it hooks (give it
  // cache_identifiers=[r"blocks\.\d+"] and float32 factors to get the same numbers).
  bool forecast_residual = true;
};

// Pyramid Attention Broadcast (Zhao et al. 2024, arXiv 2408.12588; fields and defaults as diffusers). Hooks
// attention modules, not blocks: each hooked attention counts its calls (per context) and, while the current
// timestep t is strictly inside its type's timestep skip range (lo < t < hi, as diffusers), computes only every
// block_skip_range-th call and otherwise returns (broadcasts) its last computed output. A skip range of 0 is
// diffusers' None: that type is not hooked. An identifier names a block list: spatial and temporal attention
// are the self-attention children of its blocks, `<identifier>.*.<child>` (Module::role), cross attention the
// cross-attention children (exact dotted paths, not diffusers' regex search). A model without separate temporal
// attention, or without cross attention, matches nothing for those types. A module claimed by an earlier type
// (spatial, temporal, cross) is not hooked again. The timestep comes from `current_timestep_callback`, or when unset from set_cache_timestep.
struct PyramidAttentionBroadcastConfig {
  int64_t spatial_attention_block_skip_range = 0;  // 0: None
  int64_t temporal_attention_block_skip_range = 0;
  int64_t cross_attention_block_skip_range = 0;
  std::pair<int64_t, int64_t> spatial_attention_timestep_skip_range{100, 800};
  std::pair<int64_t, int64_t> temporal_attention_timestep_skip_range{100, 800};
  std::pair<int64_t, int64_t> cross_attention_timestep_skip_range{100, 800};
  std::vector<std::string> spatial_attention_block_identifiers{"blocks", "transformer_blocks",
                                                               "single_transformer_blocks"};
  std::vector<std::string> temporal_attention_block_identifiers{"temporal_transformer_blocks"};
  std::vector<std::string> cross_attention_block_identifiers{"blocks", "transformer_blocks"};
  // double, not diffusers' int: flow-matching schedulers give fractional timesteps.
  std::function<double()> current_timestep_callback;
};

// FasterCache (Lv et al. 2024, arXiv 2410.19355; fields and defaults as diffusers). Two parts:
// - Attention reuse: each selected self-attention computes every block_skip_range-th call while the timestep is
//   strictly inside its timestep_skip_range, and otherwise extrapolates from its last two outputs,
//   out = t + (t - t_prev) * attention_weight. It skips only while the model runs the conditional batch alone
//   (or is_guidance_distilled), so the cache holds conditional outputs only.
// - CFG reuse (hooks the model itself): the model is called with the batch [uncond, cond] concatenated on dim 0.
//   Inside unconditional_batch_timestep_skip_range and except every unconditional_batch_skip_range-th step, only
//   the conditional half runs; the unconditional output is rebuilt from it in frequency space (2-D FFT over H, W
//   per frame) by adding the last measured uncond - cond difference, split into a low-frequency disc (radius
//   min(H, W) / 5) and the rest, each scaled by its weight every time it is reused (alpha inside its update
//   range, else 1), as diffusers does.
// Selection: an attention module (Module::role) whose dotted path matches one of the identifiers (ECMAScript
// regex, searched anywhere in the path, as Python's re.search) and that is not cross-attention; spatial first.
// A skip range of 0 is diffusers' None (that type is not hooked). The timestep comes from
// current_timestep_callback, or when unset from set_cache_timestep.
struct FasterCacheConfig {
  int64_t spatial_attention_block_skip_range = 2;
  int64_t temporal_attention_block_skip_range = 0;  // 0: None
  std::pair<int64_t, int64_t> spatial_attention_timestep_skip_range{-1, 681};
  std::pair<int64_t, int64_t> temporal_attention_timestep_skip_range{-1, 681};
  std::pair<int64_t, int64_t> low_frequency_weight_update_timestep_range{99, 901};
  std::pair<int64_t, int64_t> high_frequency_weight_update_timestep_range{-1, 301};
  double alpha_low_frequency = 1.1;
  double alpha_high_frequency = 1.1;
  int64_t unconditional_batch_skip_range = 5;
  std::pair<int64_t, int64_t> unconditional_batch_timestep_skip_range{-1, 641};
  std::vector<std::string> spatial_attention_block_identifiers{"^blocks.*attn", "^transformer_blocks.*attn",
                                                               "^single_transformer_blocks.*attn"};
  std::vector<std::string> temporal_attention_block_identifiers{"^temporal_transformer_blocks.*attn"};
  // Each gets the dotted path of the module it is asked for ("" is the model). Unset: 0.5 for the attention
  // weight; for the frequency weights alpha inside the update timestep range and 1 outside, as diffusers.
  std::function<double(const std::string& module_path)> attention_weight_callback;
  std::function<double(const std::string& module_path)> low_frequency_weight_callback;
  std::function<double(const std::string& module_path)> high_frequency_weight_callback;
  std::string tensor_format = "BCFHW";  // of the model's output 0: "BCFHW", "BFCHW" or "BCHW"
  bool is_guidance_distilled = false;   // no unconditional batch: CFG reuse off, attention skips at any batch
  // double, not diffusers' int: flow-matching schedulers give fractional timesteps.
  std::function<double()> current_timestep_callback;
  // The arguments of the model's forward that hold the [uncond, cond] batch; the others are passed as they are.
  std::vector<std::string> unconditional_conditional_input_kwargs_identifiers{
      "hidden_states", "encoder_hidden_states", "timestep", "attention_mask", "encoder_attention_mask"};
};

// MagCache's magnitude ratios: numbers (one per step, nearest-interpolated to the step count as diffusers does),
// the name of ratios the model carries (DeclaresCacheInputs::magcache_ratios; kModelMagCacheRatios is the
// model's own), or a JSON file (a name with '/' or ending in .json) that a calibration run wrote.
using MagCacheRatios = std::variant<std::vector<double>, std::string>;

// MagCache (github.com/Zehong-Ma/MagCache; fields and defaults of diffusers' MagCacheConfig). The stack's
// residual magnitude changes between steps by a ratio that is nearly the same for every prompt, so it is
// calibrated once per model: after the first retention_ratio of the steps, each step multiplies the ratios up
// and adds |1 - product| to an error; while the error stays <= threshold and at most max_skip_steps steps in a
// row, every block is skipped and the last computed residual is added to the stack's input, else the step
// computes and the accumulation restarts. `calibrate` never skips and measures the ratios instead: per step,
// the mean over tokens of |residual| / |previous residual| (magcache_calibration, enable_cache.h).
struct MagCacheConfig {
  double threshold = 0.06;
  int64_t max_skip_steps = 3;
  double retention_ratio = 0.2;
  // The steps the ratios are interpolated to; 0: the generation's (set_cache_step), which diffusers asks for.
  int64_t num_inference_steps = 0;
  MagCacheRatios ratios = std::string(kModelMagCacheRatios);
  bool calibrate = false;
  std::string blocks = kDefaultCacheBlocks;
};

// SeaCache (arXiv 2602.18993; fields and defaults of diffusers' SeaCacheConfig). Its indicator is the model's
// raw latent (DeclaresCacheInputs::raw_vision) through a spectral filter (a Wiener-like gain per 3-D frequency
// for the step's sigma, clean power ~ 1/|f|^power_exp, normalised to unit mean). The relative L1 change of the
// indicator between steps accumulates; under `threshold` the stack is skipped and its residual predicted from
// the last (residual_order 0) or last two (1: linear in the step index) computed steps. The first
// retention_steps and last cache_end_steps steps compute, and at most max_consecutive_cached skips in a row
// (0: no limit). Needs the step index, step count and sigma of every step (set_cache_step).
struct SeaCacheConfig {
  double threshold = 0.25;
  int64_t residual_order = 1;
  int64_t retention_steps = 1;
  int64_t cache_end_steps = 1;
  int64_t max_consecutive_cached = 2;
  double power_exp = 3.0;
  std::string blocks = kDefaultCacheBlocks;
};

// DBCache (cache-dit's Dual Block Cache, vipshop/cache-dit cache_dit/caching; field names and defaults of its
// DBCacheConfig): the first Fn blocks always run; the relative L1 change of their residual (the hidden_states out of
// block Fn-1 minus those into block 0; sum|prev - cur| / sum|prev|) against the last computed step's decides
// whether the middle blocks run or add the residual they added at the last computed step; the last Bn blocks
// always run. A step reuses when the change is below the threshold (a threshold >= 1 reuses without measuring,
// <= 0 never reuses), after the warm-up, below max_cached_steps reused steps in all and
// max_continuous_cached_steps in a row (-1: no limit). With taylorseer_order > 0 the middle residual is forecast
// by cache-dit's TaylorSeer calibrator of that order instead of reused as it is.
struct DBCacheConfig {
  int64_t fn_compute_blocks = 8;           // Fn_compute_blocks, >= 1
  int64_t bn_compute_blocks = 0;           // Bn_compute_blocks
  double residual_diff_threshold = 0.08;
  int64_t max_warmup_steps = 8;            // steps 0, warmup_interval, ... below this always compute
  int64_t warmup_interval = 1;
  int64_t max_cached_steps = -1;
  int64_t max_continuous_cached_steps = -1;
  int64_t taylorseer_order = 0;            // 0: no calibrator (TaylorSeerCalibratorConfig's taylorseer_order)
  std::string blocks = kDefaultCacheBlocks;
};

using CacheConfig = std::variant<FirstBlockCacheConfig, TeaCacheConfig, TaylorSeerConfig,
                                 PyramidAttentionBroadcastConfig, FasterCacheConfig, MagCacheConfig,
                                 SeaCacheConfig, DBCacheConfig>;

// "first_block_cache", "teacache", "taylorseer", "pyramid_attention_broadcast", "faster_cache", "magcache",
// "seacache", "dbcache".
std::string cache_method_name(const CacheConfig& config);

}  // namespace tessera
