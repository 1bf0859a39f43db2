#pragma once
// Caches on a model: enable_cache registers one hook per block of the stack (cache_hook.h) sharing one
// CacheSession; disable_cache removes them, and the model computes exactly as before.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cache/cache_config.h"
#include "cache/cache_session.h"

namespace tessera {

class HookableModel;

// Refuses a model that does not support caches, a config whose block pattern matches no module, and a model
// that has a cache already. PAB and FasterCache hook attention modules rather than blocks (see their configs)
// and need a timestep source; FasterCache also hooks the model, whose CFG batch it splits. Under context
// parallelism every decision is reduced over the group the model's own hooks run over
// (context_parallel_group), looked up when deciding: enable_parallelism and disable_parallelism may come
// before or after, and nothing is to be passed. The context starts as "default".
void enable_cache(HookableModel& model, const CacheConfig& config);
void disable_cache(HookableModel& model);
bool cache_enabled(HookableModel& model);

// Selects the branch whose state the next forwards use ("cond", "uncond"): each keeps its own step counter,
// references and cached residuals.
void cache_context(HookableModel& model, const std::string& name);
// The timestep of the next forwards, for PAB and FasterCache when their config has no current_timestep_callback: call it before
// each denoising step (every rank with the same value, so decisions stay alike).
void set_cache_timestep(HookableModel& model, double timestep);
// The loop's step (index, step count, the scheduler's sigma) for MagCache and SeaCache: call it before each
// denoising step, every rank with the same values.
void set_cache_step(HookableModel& model, const CacheStep& step);
// MagCache's calibration (calibrate=true): per context, the ratios measured so far in this generation, one per
// step (the first 1.0), the same on every rank of the context-parallel group.
std::vector<std::pair<std::string, std::vector<double>>> magcache_calibration(HookableModel& model);
// Forgets all states and records (a new generation), keeping the cache enabled.
void reset_cache(HookableModel& model);

// The session the hooks share (for inspection); throws when no cache is enabled.
std::shared_ptr<CacheSession> cache_session(HookableModel& model);

// What every block did at every step on this rank, in call order.
const std::vector<CacheRecord>& cache_records(HookableModel& model);
// The same as a table: one line per (context, step) with the metric and one letter per block
// (C computed, S skipped, F forecast), then the counts.
std::string cache_stats(HookableModel& model);

}  // namespace tessera
