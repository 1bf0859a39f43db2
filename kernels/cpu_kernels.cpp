#include "kernels/cpu_kernels.h"

#include <ATen/Version.h>

#include <string>

namespace tessera::cpu_kernels {
#ifdef TESSERA_CPU_AVX2_KERNELS  // built for x86-64
namespace {

// ATen's own choice ("DEFAULT", "AVX2", "AVX512"), so that both run the same instruction set.
bool runs_avx2() {
  static const bool avx2 = [] {
    const std::string capability = at::get_cpu_capability();
    return capability == "AVX2" || capability == "AVX512";
  }();
  return avx2;
}

}  // namespace
#endif

void modulated_layer_norm(const RowOperand& x, const RowOperand& scale, const RowOperand& shift, float eps,
                          Rounding rounding, at::Tensor& output) {
#ifdef TESSERA_CPU_AVX2_KERNELS
  if (runs_avx2()) return AVX2::modulated_layer_norm(x, scale, shift, eps, rounding, output);
#endif
  DEFAULT::modulated_layer_norm(x, scale, shift, eps, rounding, output);
}

void gated_residual(const RowOperand& residual, const RowOperand& gate, const RowOperand& y, Rounding rounding,
                    at::Tensor& output) {
#ifdef TESSERA_CPU_AVX2_KERNELS
  if (runs_avx2()) return AVX2::gated_residual(residual, gate, y, rounding, output);
#endif
  DEFAULT::gated_residual(residual, gate, y, rounding, output);
}

void apply_rotary_embedding(const RowOperand& x, const RowOperand& cos, const RowOperand& sin,
                            const RowOffsets& output_rows, at::Tensor& output) {
#ifdef TESSERA_CPU_AVX2_KERNELS
  if (runs_avx2()) return AVX2::apply_rotary_embedding(x, cos, sin, output_rows, output);
#endif
  DEFAULT::apply_rotary_embedding(x, cos, sin, output_rows, output);
}

void lse_merge(const at::Tensor& output, const at::Tensor& lse, const at::Tensor& partial_output,
               const at::Tensor& partial_lse) {
#ifdef TESSERA_CPU_AVX2_KERNELS
  if (runs_avx2()) return AVX2::lse_merge(output, lse, partial_output, partial_lse);
#endif
  DEFAULT::lse_merge(output, lse, partial_output, partial_lse);
}

void gelu_tanh(float* x, int64_t count) {
#ifdef TESSERA_CPU_AVX2_KERNELS
  if (runs_avx2()) return AVX2::gelu_tanh(x, count);
#endif
  DEFAULT::gelu_tanh(x, count);
}

void rms_norm(const RowOperand& x, const at::Tensor& weight, float eps, at::Tensor& output) {
#ifdef TESSERA_CPU_AVX2_KERNELS
  if (runs_avx2()) return AVX2::rms_norm(x, weight, eps, output);
#endif
  DEFAULT::rms_norm(x, weight, eps, output);
}

}  // namespace tessera::cpu_kernels
