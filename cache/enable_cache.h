#pragma once
// Caches on a model: enable_cache registers one hook per block of the stack (cache_hook.h) sharing one
// CacheSession; disable_cache removes them, and the model computes exactly as before.
#include <memory>
#include <string>
#include <vector>

#include "cache/cache_config.h"
#include "cache/cache_session.h"

namespace tessera {

class Communicator;
class Model;

// Refuses a model whose metadata does not support "cache", a config whose block pattern matches no module,
// and a model that has a cache already. PAB and FasterCache hook attention modules rather than blocks (see
// their configs) and need a timestep source; FasterCache also hooks the model, whose CFG batch it splits. `cp_group` is the
// context-parallel group the model runs over (DeviceMesh::context_parallel()), so that decisions are taken
// from metrics reduced over the whole sequence; null for a single rank. The context starts as "default".
void enable_cache(Model& model, const CacheConfig& config, Communicator* cp_group = nullptr);
void disable_cache(Model& model);
bool cache_enabled(Model& model);

// Selects the branch whose state the next forwards use ("cond", "uncond"): each keeps its own step counter,
// references and cached residuals.
void cache_context(Model& model, const std::string& name);
// The timestep of the next forwards, for PAB and FasterCache when their config has no current_timestep_callback: call it before
// each denoising step (every rank with the same value, so decisions stay alike).
void set_cache_timestep(Model& model, double timestep);
// Forgets all states and records (a new generation), keeping the cache enabled.
void reset_cache(Model& model);

// The session the hooks share (for inspection); throws when no cache is enabled.
std::shared_ptr<CacheSession> cache_session(Model& model);

// What every block did at every step on this rank, in call order.
const std::vector<CacheRecord>& cache_records(Model& model);
// The same as a table: one line per (context, step) with the metric and one letter per block
// (C computed, S skipped, F forecast), then the counts.
std::string cache_stats(Model& model);

}  // namespace tessera
