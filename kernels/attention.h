#pragma once
// The one attention entry point of tessera. Every model calls it; context parallelism (issue 6) redirects
// it to Ulysses / Ring while its hooks are active. Returns the log-sum-exp too, which Ring attention needs
// to merge partial results.
#include <ATen/core/Tensor.h>

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
};

struct AttentionResult {
  at::Tensor output;  // [batch, seq_q, heads, head_dim], the dtype of q
  at::Tensor lse;     // [batch, heads, seq_q] fp32 when requested, else undefined
};

// q [batch, seq_q, heads, head_dim], k and v [batch, seq_kv, heads, head_dim] (the layout diffusers uses
// after unflattening heads). Non-causal, no dropout.
AttentionResult attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionOptions& options = {});

}  // namespace tessera
