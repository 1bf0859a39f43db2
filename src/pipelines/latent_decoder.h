#pragma once
// A pipeline's decoder: latents -> pixels. The identity for a pixel-space model (pixel_decoder.h); the Wan
// VAE and FLUX's AutoencoderKL sit behind the same interface.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace tessera {

class LatentDecoder {
 public:
  virtual ~LatentDecoder() = default;
  virtual std::string class_name() const = 0;
  virtual int64_t latent_channels() const = 0;
  // Pixels per latent cell along height and width, and the latent frames of a clip of `frames` frames.
  virtual int64_t spatial_scale() const = 0;
  virtual int64_t latent_frames(int64_t frames) const = 0;
  // latents [B, C, f, h, w] -> pixels [B, 3, F, H, W] in [-1, 1] (not yet clamped).
  virtual at::Tensor decode(const at::Tensor& latents) = 0;
};

}  // namespace tessera
