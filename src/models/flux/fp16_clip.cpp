#include "src/models/flux/fp16_clip.h"

#include <ATen/ATen.h>

namespace tessera {

at::Tensor clip_to_fp16_range(const at::Tensor& x) {
  constexpr double kFp16Max = 65504.0;
  return x.scalar_type() == at::kHalf ? x.clamp(-kFp16Max, kFp16Max) : x;
}

}  // namespace tessera
