#pragma once
// TextKVCache (diffusers 0.42.1's TextKVCacheConfig): the keys and values a cross-attention projects from the
// prompt are computed once per prompt and generation and reused at every step; beyond diffusers, so is any other
// projection of the prompt alone that declares itself the same way (Wan's text embedding). It changes no number
// (the same projection of the same tensor), so it combines with every step cache and may be on by default.
//
// A hook on the model notes which prompt tensor the forward got (the entry's key, by identity, as diffusers keys
// by data_ptr: each CFG branch, the [uncond, cond] batch, a CFG-parallel rank's branch and each prompt of a batch
// is its own entry); a hook on each ProjectsTextKeyValues attention (hooks/text_key_values.h) keeps one entry per
// key and text shape, and hands the keys and values to the forward. Each model keeps its own entries (a
// two-expert pipeline's experts never share them). Under context parallelism the text is whole on every rank,
// whose entries are its own. The loop forgets them at every generation (reset_text_kv_cache).
#include <cstdint>
#include <string>

namespace tessera {

class HookableModel;

// What --text-kv-cache says: automatic enables it where the model supports it, on refuses a model that does not.
enum class TextKVMode { automatic, on, off };
TextKVMode parse_text_kv_mode(const std::string& name);  // "auto", "on", "off"

// Whether the model declares text keys and values that are the same at every step (DeclaresTextKeyValues) and
// has an attention that projects them.
bool supports_text_kv_cache(HookableModel& model);
// Refuses a model that does not support it (naming why) and one that has it already.
void enable_text_kv_cache(HookableModel& model);
void disable_text_kv_cache(HookableModel& model);
bool text_kv_cache_enabled(HookableModel& model);
// Drops every entry (a new generation); the cache stays enabled.
void reset_text_kv_cache(HookableModel& model);
// Enables or disables as `mode` says on this model; returns whether it is enabled.
bool use_text_kv_cache(HookableModel& model, TextKVMode mode);

// Per rank, since the last reset: calls (cross-attentions, text embedders) that reused an entry and that computed
// one, and the entries held.
struct TextKVCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t entries = 0;
};
TextKVCacheStats text_kv_cache_stats(HookableModel& model);

}  // namespace tessera
