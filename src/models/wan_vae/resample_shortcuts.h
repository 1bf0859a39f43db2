#pragma once
// The parameterless shortcuts of Wan2.2's residual blocks (diffusers' AvgDown3D and DupUp3D): a resampling done
// by moving pixels between the channels and the frames/rows/columns. Each output pixel depends only on the
// input pixels of its own cell, so a band of rows resamples to exactly the matching band.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tessera::wan_vae {

// x [B, C, T, H, W] -> [B, out_channels, ceil(T / factor_t), H / factor_s, W / factor_s]: each cell's
// factor_t x factor_s x factor_s samples become channels (channel-major, then frame, row, column), which are
// averaged in consecutive groups down to out_channels. A chunk whose frames do not divide is padded with zero
// frames in front.
at::Tensor average_down(const at::Tensor& x, int64_t out_channels, int64_t factor_t, int64_t factor_s);

// The reverse: x [B, C, T, H, W] -> [B, out_channels, T * factor_t, H * factor_s, W * factor_s], each channel
// repeated, then the copies spread over the cell's samples in the same order. On the clip's first chunk the
// first factor_t - 1 frames are dropped, as the causal decoder makes one frame from the first latent frame.
at::Tensor duplicate_up(const at::Tensor& x, int64_t out_channels, int64_t factor_t, int64_t factor_s,
                        bool first_chunk);

}  // namespace tessera::wan_vae
