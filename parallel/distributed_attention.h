#pragma once
// Attention over a sequence sharded across ranks. Each takes this rank's q, k, v shards
// ([batch, seq_local, heads, head_dim]) and returns this rank's shard of the output, equal to the
// corresponding rows of single-rank attention over the whole sequence.
#include "kernels/attention.h"

namespace tessera {

class Communicator;

// Ulysses: all-to-all from sequence-sharded to head-sharded q, k, v (one fused exchange), `inner` attention
// over the group's whole sequence on this rank's heads, all-to-all back. Head counts need not divide the
// group: ranks simply hold different numbers of heads. Sequence shards follow shard_sizes.
AttentionResult ulysses_attention(Communicator& group, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const AttentionOptions& options, const AttentionImplementation& inner);

// Ring: q stays, k and v travel around the ring (the next hop's exchange overlaps this hop's attention);
// partial outputs merge through their log-sum-exp in fp32. Shards of unequal length are padded for the
// exchange and cut back to their true length before use, so padding never enters the softmax.
AttentionResult ring_attention(Communicator& ring, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionOptions& options);

}  // namespace tessera
