#pragma once
// The fused CPU kernels (kernels/*_cpu.cpp), compiled once per instruction set into a namespace named for it, as
// ATen builds its own kernels: DEFAULT (the platform's baseline) and, on x86-64, AVX2 (with FMA and F16C). The
// functions at namespace level run the build this CPU supports, by ATen's own choice (so ATEN_CPU_CAPABILITY=default
// forces the baseline for both). Operands as the ops' dispatch functions hand them: fp32, bf16 or half rows
// broadcast to `output`, which is contiguous and in the result dtype.
#include <ATen/core/Tensor.h>

#include "kernels/rounding.h"
#include "kernels/row_offsets.h"

namespace tessera::cpu_kernels {

void modulated_layer_norm(const RowOperand& x, const RowOperand& scale, const RowOperand& shift, float eps,
                          Rounding rounding, at::Tensor& output);
void gated_residual(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, Rounding rounding,
                    at::Tensor& output);
// `output` in x's shape, its rows where `output_rows` says (head-major: kernels/rotary.h).
void apply_rotary_embedding(const RowOperand& x, const RowOperand& cos, const RowOperand& sin,
                            const RowOffsets& output_rows, at::Tensor& output);
// Ring's merge (kernels/lse_merge.h): `output` and `lse` fp32 with unit stride along head_dim, `partial_output`
// fp32, bf16, half or double with unit stride along head_dim.
void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse);
// GELU (tanh) in place on `count` contiguous fp32 values (kernels/gelu.h).
void gelu_tanh(float* x, int64_t count);
// RMSNorm of fp32 rows with a contiguous fp32 weight (kernels/rms_norm.h).
void rms_norm(const RowOperand& x, const at::Tensor& weight, float eps, at::Tensor& output);

namespace DEFAULT {
void modulated_layer_norm(const RowOperand& x, const RowOperand& scale, const RowOperand& shift, float eps,
                          Rounding rounding, at::Tensor& output);
void gated_residual(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, Rounding rounding,
                    at::Tensor& output);
// `output` in x's shape, its rows where `output_rows` says (head-major: kernels/rotary.h).
void apply_rotary_embedding(const RowOperand& x, const RowOperand& cos, const RowOperand& sin,
                            const RowOffsets& output_rows, at::Tensor& output);
// Ring's merge (kernels/lse_merge.h): `output` and `lse` fp32 with unit stride along head_dim, `partial_output`
// fp32, bf16, half or double with unit stride along head_dim.
void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse);
// GELU (tanh) in place on `count` contiguous fp32 values (kernels/gelu.h).
void gelu_tanh(float* x, int64_t count);
// RMSNorm of fp32 rows with a contiguous fp32 weight (kernels/rms_norm.h).
void rms_norm(const RowOperand& x, const at::Tensor& weight, float eps, at::Tensor& output);
}  // namespace DEFAULT

namespace AVX2 {
void modulated_layer_norm(const RowOperand& x, const RowOperand& scale, const RowOperand& shift, float eps,
                          Rounding rounding, at::Tensor& output);
void gated_residual(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, Rounding rounding,
                    at::Tensor& output);
// `output` in x's shape, its rows where `output_rows` says (head-major: kernels/rotary.h).
void apply_rotary_embedding(const RowOperand& x, const RowOperand& cos, const RowOperand& sin,
                            const RowOffsets& output_rows, at::Tensor& output);
// Ring's merge (kernels/lse_merge.h): `output` and `lse` fp32 with unit stride along head_dim, `partial_output`
// fp32, bf16, half or double with unit stride along head_dim.
void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse);
// GELU (tanh) in place on `count` contiguous fp32 values (kernels/gelu.h).
void gelu_tanh(float* x, int64_t count);
// RMSNorm of fp32 rows with a contiguous fp32 weight (kernels/rms_norm.h).
void rms_norm(const RowOperand& x, const at::Tensor& weight, float eps, at::Tensor& output);
}  // namespace AVX2

}  // namespace tessera::cpu_kernels
