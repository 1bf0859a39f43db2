#pragma once
// The streams of one block call as the step caches read, cache and rebuild them: hidden_states, and for a block
// that carries the text stream too, encoder_hidden_states. Residuals and forecasts are kept per stream.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "hooks/args.h"
#include "hooks/block_stack.h"

namespace tessera {

class Module;

struct Streams {
  at::Tensor hidden_states;
  at::Tensor encoder_hidden_states;  // undefined for a one-stream block
  bool defined() const { return hidden_states.defined(); }
};

// The streams a block is called with (its arguments of those names) and the ones it returned.
Streams input_streams(const Args& args, const BlockStreams& layout);
Streams output_streams(const Outputs& outputs, const BlockStreams& layout);
// The streams as the block returns them, in its output order.
Outputs as_outputs(const Streams& streams, const BlockStreams& layout);

// Per stream; an undefined encoder stream stays undefined.
Streams operator+(const Streams& a, const Streams& b);
Streams operator-(const Streams& a, const Streams& b);
Streams operator*(const Streams& a, double factor);
Streams operator/(const Streams& a, double divisor);
Streams to_dtype_of(const Streams& a, const Streams& like);
// Both defined with equal shapes per stream: a cached value of one shard shape cannot serve another.
bool same_shapes(const Streams& a, const Streams& b);

// Whether outputs cached from an attention module's earlier call can stand in for this call's, shard shapes
// being rank-local: output 0 has hidden_states' sizes past the batch, and, for a two-stream attention,
// output 1 has encoder_hidden_states'.
bool outputs_fit_call(const Outputs& cached, const Args& args);

// The block stack of `model` in call order, each block with its output layout: the model's declaration
// (DeclaresBlockStack; none declared: no blocks). `patterns` (";"-separated, empty: the model's own) selects
// other blocks; each keeps the layout of the declared group it belongs to (none: hidden_states alone).
struct StackBlock {
  std::string path;
  Module* module;
  BlockStreams streams;
};
std::vector<StackBlock> block_stack_of(Module& model, const std::string& patterns);

}  // namespace tessera
