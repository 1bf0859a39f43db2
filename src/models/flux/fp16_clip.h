#pragma once
#include <ATen/core/Tensor.h>

namespace tessera {

// fp16 activations clipped to its finite range, as diffusers' FLUX blocks do, so an overflow in one block
// saturates instead of turning the rest of the forward into inf/NaN. Other dtypes pass through.
at::Tensor clip_to_fp16_range(const at::Tensor& x);

}  // namespace tessera
