#pragma once
// Attention over a sequence sharded across ranks. Each takes this rank's q, k, v shards
// ([batch, seq_local, heads, head_dim]) and returns this rank's shard of the output, equal to the
// corresponding rows of single-rank attention over the whole sequence. `sequence_lengths`, when given, is every
// group member's shard length in group order (context parallelism knows them from its plan's splits); empty, they
// are exchanged (one all_gather of 8 bytes per rank).
#include <cstdint>
#include <vector>

#include "kernels/attention.h"

namespace tessera {

class Communicator;

// Ulysses: all-to-all from sequence-sharded to head-sharded q, k, v (one fused exchange), `inner` attention
// over the group's whole sequence on this rank's heads, all-to-all back. Head counts need not divide the
// group: ranks simply hold different numbers of heads. Sequence shards may have any lengths.
AttentionResult ulysses_attention(Communicator& group, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const AttentionOptions& options, const AttentionImplementation& inner,
                                  const std::vector<int64_t>& sequence_lengths = {});

// Ring: q stays, k and v travel around the ring (the next hop's exchange overlaps this hop's attention);
// partial outputs merge in place into fp32 accumulators through their log-sum-exp (kernels/lse_merge.h). Shards
// of unequal length are padded for the exchange and cut back to their true length before use, so padding never
// enters the softmax. `sequence_lengths` are the members' k/v lengths.
AttentionResult ring_attention(Communicator& ring, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionOptions& options, const std::vector<int64_t>& sequence_lengths = {});

}  // namespace tessera
