#pragma once

namespace tessera {

// Where a fused kernel rounds to a bf16 or half output dtype (with fp32 tensors every step rounds to fp32 either
// way, so the two agree there).
enum class Rounding {
  once,    // fp32 math throughout, one rounding at the end: what Wan does (diffusers computes its modulation in fp32)
  per_op,  // after every step, as the op sequence on tensors of that dtype rounds: what FLUX does
};

}  // namespace tessera
