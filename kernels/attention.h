#pragma once
// The one attention entry point of tessera. Every model calls it; context parallelism (issue 6) redirects
// it to Ulysses / Ring while its hooks are active. Returns the log-sum-exp too, which Ring attention needs
// to merge partial results.
#include <ATen/core/Tensor.h>

#include <functional>
#include <optional>

namespace tessera {

enum class AttentionBackend {
  fused,  // torch's fused kernels (flash for CPU, flash or memory-efficient for CUDA)
  math,   // plain ATen: softmax(q k^T * scale) v, the reference the fused path is tested against
};

struct AttentionOptions {
  AttentionBackend backend = AttentionBackend::fused;
  std::optional<double> scale;  // default 1 / sqrt(head_dim)
  bool need_lse = false;        // compute the log-sum-exp (fp32, [batch, heads, seq_q])
  // q, k and v are this rank's shards of a sequence that context parallelism split (self-attention). Such
  // calls go to the distributed implementation in scope, if any; cross-attention to unsplit text never does.
  bool sequence_parallel = false;
};

struct AttentionResult {
  at::Tensor output;  // [batch, seq_q, heads, head_dim], the dtype of q
  at::Tensor lse;     // [batch, heads, seq_q] fp32 when requested, else undefined
};

// q [batch, seq_q, heads, head_dim], k and v [batch, seq_kv, heads, head_dim] (the layout diffusers uses
// after unflattening heads). Non-causal, no dropout. Sequence-parallel calls go to the implementation that
// a ScopedSequenceParallelAttention installed on this thread, if any.
AttentionResult attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionOptions& options = {});

// Attention on whatever q, k, v this rank holds, never distributed: what distributed implementations run
// on their shards.
AttentionResult local_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const AttentionOptions& options = {});

// t [batch, seq, heads, head_dim] with each head's rows packed in memory ([batch, heads, seq, head_dim] seen in
// t's shape), as the CPU attention takes q, k and v without copying them; t itself when they are packed already.
// The same values: a layout only. For operands made once and attended to many times.
at::Tensor with_packed_head_rows(const at::Tensor& t);

using AttentionImplementation =
    std::function<AttentionResult(const at::Tensor&, const at::Tensor&, const at::Tensor&, const AttentionOptions&)>;

// While alive, sequence-parallel attention on this thread runs `implementation` (Ulysses, Ring, USP).
// Context parallelism scopes it to the model's forward, so a model without parallelism is untouched.
class ScopedSequenceParallelAttention {
 public:
  explicit ScopedSequenceParallelAttention(const AttentionImplementation* implementation);
  ~ScopedSequenceParallelAttention();
  ScopedSequenceParallelAttention(const ScopedSequenceParallelAttention&) = delete;
  ScopedSequenceParallelAttention& operator=(const ScopedSequenceParallelAttention&) = delete;

 private:
  const AttentionImplementation* previous_;
};

}  // namespace tessera
