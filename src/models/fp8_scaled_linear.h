#pragma once
// The arithmetic of --weights fp8-scaled: a linear layer's weight [out, in] stored as float8_e4m3fn with one fp32
// scale per output channel (row), and the two ways its forward computes. The reference dequantises the weight
// (fp8 -> fp32, times the row's scale, -> the compute dtype) and runs an ordinary linear: any device. The FP8
// matmul quantises the activation per token (row) as the weight is per channel, multiplies the FP8 operands with
// at::_scaled_mm (unit scales: the one scaling every FP8 GPU and the CPU take) accumulating in fp32, and applies
// both scale vectors to the fp32 product: on CUDA GPUs that have FP8 matmul (sm_89 and above).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <optional>

namespace tessera {

// float8_e4m3fn's largest finite value: a row's absmax is stored as this.
inline constexpr double kFloat8E4m3Max = 448.0;

struct Fp8Quantized {
  at::Tensor values;  // float8_e4m3fn, the shape of the input
  at::Tensor scale;   // fp32 [rows]: values[r] * scale[r] approximates row r
};

// Per-row quantisation of a 2-D tensor: scale = absmax of the row / 448 (1 for a row of zeros), values =
// row / scale rounded to float8_e4m3fn. Computed in fp32 whatever the input dtype.
Fp8Quantized quantize_fp8_rows(const at::Tensor& matrix);
// Its two halves, for rows whose absmax was found elsewhere (a sharded weight: each rank holds part of a row,
// docs/shard_weights.md): the scales of the rows' absmax values (fp32), and the rows [r, n] divided by their
// scales [r] and rounded to float8_e4m3fn. quantize_fp8_rows is these two, so the bits are the same.
at::Tensor fp8_row_scales(const at::Tensor& absmax);
at::Tensor quantize_fp8_with_scales(const at::Tensor& rows, const at::Tensor& scale);

enum class Fp8MatmulPath { reference, scaled_mm };

// x [..., in] times the stored weight, plus `bias` (in the compute dtype, or undefined); the result in
// `compute_dtype`. scaled_mm needs in and out to be multiples of 16 (at::_scaled_mm's rule) and a device whose
// _scaled_mm runs (fp8_matmul_runs_on); callers check, this asserts.
at::Tensor fp8_scaled_linear(const at::Tensor& x, const Fp8Quantized& weight, const at::Tensor& bias,
                             c10::ScalarType compute_dtype, Fp8MatmulPath path);

// The path a forward takes for this weight and input: scaled_mm on a CUDA device whose _scaled_mm runs, with the
// weight's both dimensions multiples of 16; the reference otherwise (the CPU, older GPUs, awkward widths).
Fp8MatmulPath fp8_matmul_path(const at::Tensor& x, const Fp8Quantized& weight);

// Whether at::_scaled_mm runs on this CUDA device (tried once per device on 16 x 16 operands, then remembered):
// FP8 tensor cores, compute capability 8.9 and above. False for any non-CUDA device.
bool fp8_matmul_runs_on(const c10::Device& device);

}  // namespace tessera
