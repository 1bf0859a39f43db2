#include "cache/block_streams.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "common/split.h"
#include "hooks/module.h"

namespace tessera {
namespace {

at::Tensor plus_if_defined(const at::Tensor& a, const at::Tensor& b) { return a.defined() ? a + b : a; }
at::Tensor minus_if_defined(const at::Tensor& a, const at::Tensor& b) { return a.defined() ? a - b : a; }

bool same_shape(const at::Tensor& a, const at::Tensor& b) {
  return a.defined() == b.defined() && (!a.defined() || a.sizes() == b.sizes());
}

}  // namespace

Streams input_streams(const Args& args, const BlockStreams& layout) {
  return {.hidden_states = args.tensor("hidden_states"),
          .encoder_hidden_states = layout.two_streams() ? args.tensor("encoder_hidden_states") : at::Tensor()};
}

Streams output_streams(const Outputs& outputs, const BlockStreams& layout) {
  return {.hidden_states = outputs.at(static_cast<size_t>(layout.hidden_states_output)),
          .encoder_hidden_states = layout.two_streams()
                                       ? outputs.at(static_cast<size_t>(layout.encoder_hidden_states_output))
                                       : at::Tensor()};
}

Outputs as_outputs(const Streams& streams, const BlockStreams& layout) {
  Outputs outputs(static_cast<size_t>(std::max(layout.hidden_states_output, layout.encoder_hidden_states_output)) + 1);
  outputs[static_cast<size_t>(layout.hidden_states_output)] = streams.hidden_states;
  if (layout.two_streams()) outputs[static_cast<size_t>(layout.encoder_hidden_states_output)] = streams.encoder_hidden_states;
  return outputs;
}

Streams operator+(const Streams& a, const Streams& b) {
  return {.hidden_states = plus_if_defined(a.hidden_states, b.hidden_states),
          .encoder_hidden_states = plus_if_defined(a.encoder_hidden_states, b.encoder_hidden_states)};
}

Streams operator-(const Streams& a, const Streams& b) {
  return {.hidden_states = minus_if_defined(a.hidden_states, b.hidden_states),
          .encoder_hidden_states = minus_if_defined(a.encoder_hidden_states, b.encoder_hidden_states)};
}

Streams operator*(const Streams& a, double factor) {
  return {.hidden_states = a.hidden_states.defined() ? a.hidden_states * factor : a.hidden_states,
          .encoder_hidden_states =
              a.encoder_hidden_states.defined() ? a.encoder_hidden_states * factor : a.encoder_hidden_states};
}

Streams operator/(const Streams& a, double divisor) {
  return {.hidden_states = a.hidden_states.defined() ? a.hidden_states / divisor : a.hidden_states,
          .encoder_hidden_states =
              a.encoder_hidden_states.defined() ? a.encoder_hidden_states / divisor : a.encoder_hidden_states};
}

Streams to_dtype_of(const Streams& a, const Streams& like) {
  const auto cast = [](const at::Tensor& x, const at::Tensor& reference) {
    return x.defined() && reference.defined() ? x.to(reference.scalar_type()) : x;
  };
  return {.hidden_states = cast(a.hidden_states, like.hidden_states),
          .encoder_hidden_states = cast(a.encoder_hidden_states, like.encoder_hidden_states)};
}

bool same_shapes(const Streams& a, const Streams& b) {
  return a.defined() && same_shape(a.hidden_states, b.hidden_states) &&
         same_shape(a.encoder_hidden_states, b.encoder_hidden_states);
}

bool outputs_fit_call(const Outputs& cached, const Args& args) {
  if (cached.empty() || cached[0].sizes().slice(1) != args.tensor("hidden_states").sizes().slice(1)) return false;
  const at::Tensor* text = args.get_if<at::Tensor>("encoder_hidden_states");
  return cached.size() < 2 || text == nullptr || cached[1].sizes().slice(1) == text->sizes().slice(1);
}

std::vector<StackBlock> block_stack_of(Module& model, const std::string& patterns) {
  const auto* declaring = dynamic_cast<const DeclaresBlockStack*>(&model);
  // A model that declares nothing has no stack of its own: only explicit patterns select its blocks.
  const std::vector<BlockGroup> declared = declaring != nullptr ? declaring->block_stack() : std::vector<BlockGroup>{};
  std::vector<std::string> selected;
  if (patterns.empty()) {
    for (const BlockGroup& group : declared) selected.push_back(group.pattern);
  } else {
    selected = split_nonempty(patterns, ';');
  }
  std::vector<StackBlock> blocks;
  for (const std::string& pattern : selected) {
    for (const auto& [path, module] : model.find_all(pattern)) {
      BlockStreams streams;
      for (const BlockGroup& group : declared) {
        if (path_matches(group.pattern, path)) {
          streams = group.streams;
          break;
        }
      }
      blocks.push_back({.path = path, .module = module, .streams = streams});
    }
  }
  return blocks;
}

}  // namespace tessera
