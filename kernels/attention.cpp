#include "kernels/attention.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "common/check.h"

namespace tessera {
namespace {

// All paths work in torch's [batch, heads, seq, head_dim] layout.
AttentionResult math_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const at::Tensor scores = at::matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(-2, -1)) * scale;
  const at::Tensor lse = at::logsumexp(scores, -1);
  const at::Tensor probabilities = at::exp(scores - lse.unsqueeze(-1));
  return {at::matmul(probabilities, v.to(at::kFloat)).to(q.scalar_type()), lse};
}

thread_local const AttentionImplementation* sequence_parallel_implementation = nullptr;

// The CUDA kernels want head_dim a multiple of 8 (flash: at most 256). Zero columns appended to q and k add
// nothing to the scores, and those appended to v give output columns that are sliced off, so padding is exact
// (the scale is the caller's, from the true head_dim). Wan2.1's heads are 128, but tiny test configs are not.
AttentionResult cuda_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                               bool need_lse) {
  constexpr int64_t kHeadDimMultiple = 8;
  const int64_t head_dim = q.size(-1);
  const int64_t padded_dim = (head_dim + kHeadDimMultiple - 1) / kHeadDimMultiple * kHeadDimMultiple;
  if (padded_dim != head_dim) {
    auto pad = [&](const at::Tensor& t) { return at::constant_pad_nd(t, {0, padded_dim - head_dim}); };
    AttentionResult padded = cuda_attention(pad(q), pad(k), pad(v), scale, need_lse);
    padded.output = padded.output.narrow(-1, 0, head_dim);
    return padded;
  }
  const bool half_precision = q.scalar_type() == at::kHalf || q.scalar_type() == at::kBFloat16;
  if (half_precision && head_dim <= 256) {
    auto result = at::_scaled_dot_product_flash_attention(q, k, v, 0.0, false, false, scale);
    return {std::get<0>(result), need_lse ? std::get<1>(result) : at::Tensor()};
  }
  // fp32 (and wide heads): the memory-efficient kernel; its log-sum-exp is padded along seq_q to a multiple of 32.
  auto result = at::_scaled_dot_product_efficient_attention(q, k, v, std::nullopt, need_lse, 0.0, false, scale);
  at::Tensor lse = need_lse ? std::get<1>(result).narrow(-1, 0, q.size(-2)).contiguous() : at::Tensor();
  return {std::get<0>(result), lse};
}

// ATen's CPU flash kernel gets each head's rows of q, k and v packed (t [batch, heads, seq, head_dim] with strides
// (.., .., head_dim, 1), as head-major tensors have them), copied when they are views of the models' [batch, seq,
// heads, head_dim]: its block products on rows strided by heads x head_dim run slower (Wan2.1-1.3B widths at 4096
// tokens, one thread, 2-layer forward: q and k packed 1.85 s -> 1.57 s of attention for 0.05 s of copies; v packed
// too 1.60 / 1.57 s -> 1.49 / 1.43 s for 5-8 ms), and for a q strided along head_dim it returns garbage (values ~1e33,
// no error).
at::Tensor packed_rows(const at::Tensor& t) {
  const bool packed = t.stride(-1) == 1 && (t.size(-2) <= 1 || t.stride(-2) == t.size(-1));
  return packed ? t : t.contiguous();
}

AttentionResult fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                bool need_lse) {
  if (q.is_cpu()) {
    // Returns the log-sum-exp as a strided view; callers get a contiguous copy.
    auto [output, lse] = at::_scaled_dot_product_flash_attention_for_cpu(
        packed_rows(q), packed_rows(k), packed_rows(v), 0.0, false, std::nullopt, scale);
    return {output, need_lse ? lse.contiguous() : at::Tensor()};
  }
  if (q.is_cuda()) return cuda_attention(q, k, v, scale, need_lse);
  return math_attention(q, k, v, scale);
}

}  // namespace

ScopedSequenceParallelAttention::ScopedSequenceParallelAttention(const AttentionImplementation* implementation)
    : previous_(sequence_parallel_implementation) {
  sequence_parallel_implementation = implementation;
}

ScopedSequenceParallelAttention::~ScopedSequenceParallelAttention() { sequence_parallel_implementation = previous_; }

AttentionResult attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionOptions& options) {
  if (options.sequence_parallel && sequence_parallel_implementation != nullptr) {
    return (*sequence_parallel_implementation)(q, k, v, options);
  }
  return local_attention(q, k, v, options);
}

at::Tensor with_packed_head_rows(const at::Tensor& t) {
  TESSERA_CHECK(t.dim() == 4, "with_packed_head_rows takes [batch, seq, heads, head_dim], got ", t.sizes());
  return packed_rows(t.transpose(1, 2)).transpose(1, 2);
}

AttentionResult local_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const AttentionOptions& options) {
  TESSERA_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention takes [batch, seq, heads, head_dim] "
                "tensors, got q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
  TESSERA_CHECK(k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(2) == k.size(2) && q.size(3) == k.size(3),
                "attention: incompatible shapes q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (q.numel() == 0 || k.size(1) == 0) {
    // Empty shards happen under context parallelism (more ranks than heads or tokens); the fused kernels
    // do not take them. No keys: output 0 and log-sum-exp -inf, the neutral element of the Ring merge.
    AttentionResult empty{at::zeros_like(q), at::Tensor()};
    if (options.need_lse) {
      empty.lse = at::full({q.size(0), q.size(2), q.size(1)}, -std::numeric_limits<float>::infinity(),
                           q.options().dtype(at::kFloat));
    }
    return empty;
  }
  const at::Tensor q_heads = q.transpose(1, 2), k_heads = k.transpose(1, 2), v_heads = v.transpose(1, 2);
  AttentionResult result = options.backend == AttentionBackend::math
                               ? math_attention(q_heads, k_heads, v_heads, scale)
                               : fused_attention(q_heads, k_heads, v_heads, scale, options.need_lse);
  result.output = result.output.transpose(1, 2);
  if (!options.need_lse) result.lse = at::Tensor();
  return result;
}

}  // namespace tessera
