#pragma once
// A generation's prompts encoded once, on one rank of its group, and sent to the others: every rank of a
// generation would otherwise run the same text encoder on the same prompts (UMT5-XXL: 10.6 GiB of weights on every
// rank, and its encode time on each).
#include <c10/core/Device.h>

namespace tessera {

class Communicator;
struct PromptEmbeddings;

// Every rank of `group` returns rank `root`'s `text` (the others pass an empty one), on `device`: the embeddings,
// the mask and the pooled vector where the encoder gives one. The shapes travel first, so only the root needs to
// know them.
PromptEmbeddings broadcast_prompt_embeddings(const PromptEmbeddings& text, Communicator& group, int root,
                                             c10::Device device);

}  // namespace tessera
