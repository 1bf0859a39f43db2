#pragma once
// The VAEs' 2-D and 3-D convolutions. On the CPU, torch picks oneDNN or its own im2col kernel by a heuristic that
// counts batch x channels x frames x rows and ignores the width; a thin band of a split decode falls under it,
// and the im2col kernel then materialises a column buffer 27 times the input (hundreds of MB at the output
// resolution), so a band would cost more memory than the whole frame. These always take oneDNN on the CPU when
// torch has it (fp32 / bf16), and torch's choice elsewhere.
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace tessera {

at::Tensor convolution(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                       at::IntArrayRef stride, at::IntArrayRef padding);

}  // namespace tessera
