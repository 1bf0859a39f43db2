#pragma once
// What TextKVCache (cache/text_kv_cache.h) reads: the attention modules whose keys and values are projected from
// the prompt alone, so that they are the same at every denoising step, and the model input the prompt comes in.
// cache/ asks through these interfaces only, so it never learns a model's parameter names.
#include <string>

#include "hooks/args.h"

namespace tessera {

// An attention whose text keys and values depend on one of its call's arguments (`text_key_value_source`) alone.
class ProjectsTextKeyValues {
 public:
  virtual ~ProjectsTextKeyValues() = default;
  // The argument the keys and values are projected from ("encoder_hidden_states").
  virtual std::string text_key_value_source() const = 0;
  // The keys and values of a call with `args`, computed by the module's own code, as the named arguments its
  // forward takes in their place (and then projects nothing from the source).
  virtual Args text_key_values(const Args& args) const = 0;
};

// A model whose ProjectsTextKeyValues modules get a source computed from its input `text_key_value_input()` by
// code that no step changes (no timestep, no block's output): reusing keys and values per identity of that input
// over one generation is exact. A model whose text keys change from step to step does not derive from it.
class DeclaresTextKeyValues {
 public:
  virtual ~DeclaresTextKeyValues() = default;
  virtual std::string text_key_value_input() const = 0;
};

}  // namespace tessera
