#pragma once
// A pipeline's text encoder: prompts in, embeddings and their mask out. The embedded model's word encoder,
// UMT5 (Wan) and CLIP + T5 (FLUX) sit behind this one interface.
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <string>
#include <vector>

namespace tessera {

struct PromptEmbeddings {
  at::Tensor embeddings;  // [prompts, length, dim], zero past each prompt's length (as the Wan pipeline does)
  at::Tensor mask;        // [prompts, length] bool, true on the prompt's tokens
  // [prompts, dim] float32: FLUX's CLIP pooled output (FluxTextEncoder); undefined for encoders without one.
  at::Tensor pooled;
};

class TextEncoder {
 public:
  virtual ~TextEncoder() = default;
  // The class name its folder's config.json gives.
  virtual std::string class_name() const = 0;
  // Throws tessera::Error saying what is wrong with `prompt` (a word outside a closed vocabulary, a prompt
  // too long): callers check every prompt before any expensive work.
  virtual void check_prompt(const std::string& prompt) const = 0;
  // Embeddings of `prompts` on the encoder's device, float32. The empty prompt is valid (no guidance text).
  virtual PromptEmbeddings encode(const std::vector<std::string>& prompts) = 0;
  // On a rank of a generation's group that receives the embeddings while another encodes, with the encoder's
  // weights sharded across the group (--shard-weights): the gathers an encode of `prompts` prompts runs, with no
  // computation. Nothing for an encoder held whole.
  virtual void accompany_encode(size_t /*prompts*/) {}
};

}  // namespace tessera
