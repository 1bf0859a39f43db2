#include "src/models/latent_decoder.h"

#include <ATen/ATen.h>

namespace tessera {

at::Tensor LatentDecoder::decode_to_frames(const at::Tensor& latents, Communicator* /*group*/) {
  return pixels_to_frames(decode(latents));
}

at::Tensor pixels_to_frames(const at::Tensor& pixels) {
  return ((pixels.to(at::kFloat).clamp(-1.0, 1.0) + 1.0) * 127.5)
      .round()
      .to(at::kByte)
      .permute({0, 2, 3, 4, 1})
      .contiguous()
      .cpu();
}

}  // namespace tessera
