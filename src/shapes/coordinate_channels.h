#pragma once
// Absolute position for a pixel-space Wan model. Wan's transformer sees position only through rotary
// embeddings, which are relative, so a caption's "top left" is nearly invisible to it. The embedded model
// therefore takes three more input channels, (t, y, x) each in [-1, 1], concatenated to the pixels the way
// Wan's image-to-video model concatenates its condition channels. The model stays a plain
// WanTransformer3DModel (in_channels = 3 + 3); a hook on it appends the channels, so the denoising loop,
// context parallelism and the caches see the model's usual inputs and outputs.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tessera {

class Model;

constexpr int64_t kCoordinateChannels = 3;

// x [B, C, F, H, W] -> [B, C + 3, F, H, W]: C's channels, then t (frames; 0 for one frame), y, x at pixel
// centres, in x's dtype and device.
at::Tensor append_coordinate_channels(const at::Tensor& x);

// Registers the hook "coordinate_channels" on `model`, which appends the channels to its hidden_states.
void enable_coordinate_channels(Model& model);

}  // namespace tessera
