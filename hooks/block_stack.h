#pragma once
// What the blocks of a model's stack return, for hooks that replace a block's forward (the step caches): which
// output is the hidden_states stream and which, for a block that also carries the text stream, the
// encoder_hidden_states one (diffusers' TransformerBlockRegistry: return_hidden_states_index and
// return_encoder_hidden_states_index). A model whose blocks the caches may hook says which they are by also
// deriving from DeclaresBlockStack; the caches assume no stack of their own.
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct BlockStreams {
  int64_t hidden_states_output = 0;
  int64_t encoder_hidden_states_output = -1;  // -1: the block returns hidden_states alone
  bool two_streams() const { return encoder_hidden_states_output >= 0; }
};

// One kind of block: the modules whose paths match `pattern` (Module::find_all), all returning `streams`.
struct BlockGroup {
  std::string pattern;
  BlockStreams streams;
};

class DeclaresBlockStack {
 public:
  virtual ~DeclaresBlockStack() = default;
  // The stack in call order: the blocks of each group run after those of the group before.
  virtual std::vector<BlockGroup> block_stack() const = 0;
};

}  // namespace tessera
