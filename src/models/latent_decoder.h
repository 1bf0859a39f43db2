#pragma once
// A pipeline's decoder: latents -> pixels. The identity for a pixel-space model (pixel_decoder.h); the Wan
// VAE (src/models/wan_vae/wan_vae_decoder.h) and FLUX's AutoencoderKL sit behind the same interface.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace tessera {

class Communicator;

class LatentDecoder {
 public:
  virtual ~LatentDecoder() = default;
  virtual std::string class_name() const = 0;
  virtual int64_t latent_channels() const = 0;
  // Pixels per latent cell along height and width, and the latent frames of a clip of `frames` frames.
  virtual int64_t spatial_scale() const = 0;
  virtual int64_t latent_frames(int64_t frames) const = 0;
  // Frames per latent frame after the first: a clip has 1 + temporal_scale() * k frames.
  virtual int64_t temporal_scale() const { return 1; }
  // latents [B, C, f, h, w] -> pixels [B, 3, F, H, W] in [-1, 1] (not yet clamped).
  virtual at::Tensor decode(const at::Tensor& latents) = 0;
  // uint8 frames [B, F, H, W, 3] on the CPU, identical on every rank of group (nullptr: this rank alone). A
  // decoder that can split its work across the group does, each rank holding only its band of the activations.
  // The default decodes everything on every rank.
  virtual at::Tensor decode_to_frames(const at::Tensor& latents, Communicator* group);
};

// Pixels [B, 3, F, H, W] in [-1, 1] -> uint8 frames [B, F, H, W, 3] on the CPU (clamped, rounded).
at::Tensor pixels_to_frames(const at::Tensor& pixels);

}  // namespace tessera
