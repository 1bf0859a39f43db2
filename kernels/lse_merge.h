#pragma once
// Ring attention's merge of one hop's partial attention into the running result, through the log-sum-exp, in
// place and in fp32:
//   lse'    = log(exp(lse) + exp(partial_lse))
//   output' = output * exp(lse - lse') + partial_output * exp(partial_lse - lse')
// A row whose two log-sum-exps are both -inf (no keys yet, an empty shard) takes weight 0 from both sides:
// output 0 and lse -inf, never NaN.
#include <ATen/core/Tensor.h>

namespace tessera {

// output [batch, seq, heads, head_dim] fp32 and lse [batch, heads, seq] fp32 are the accumulators, updated in
// place; they may be views (a range of rows), output with head_dim contiguous. partial_output has output's shape
// in fp32, bf16 or fp16; partial_lse has lse's shape in fp32. CPU: a vectorised kernel; CUDA: the sm_90 kernel
// when tessera is built with its CUDA kernels, else the reference.
void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse);

// The same in plain ATen: what the kernels are tested against.
void lse_merge_reference(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
                         const at::Tensor& partial_lse);

}  // namespace tessera
