#pragma once
// Wan2.2's VAE folds each patch_size x patch_size patch of pixels into the channels before the encoder and
// unfolds it after the decoder (diffusers' patchify / unpatchify): channel c * p * p + column * p + row (the
// column within the patch before the row, as diffusers orders them). A size of 1 leaves the video as it is.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tessera::wan_vae {

// [B, C, F, H, W] -> [B, C * p * p, F, H / p, W / p]; H and W must be multiples of p.
at::Tensor patchify(const at::Tensor& video, int64_t patch_size);
// [B, C * p * p, F, h, w] -> [B, C, F, h * p, w * p].
at::Tensor unpatchify(const at::Tensor& x, int64_t patch_size);

}  // namespace tessera::wan_vae
