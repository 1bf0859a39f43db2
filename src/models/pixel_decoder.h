#pragma once
// The decoder of a pixel-space model: the transformer already unpatchifies to pixels, so decoding is the
// identity. Its folder's config.json: {"_class_name": "PixelDecoder", "out_channels": 3}.
#include <memory>
#include <string>

#include "src/models/latent_decoder.h"
#include "src/models/part_config.h"

namespace tessera {

class PixelDecoder : public LatentDecoder {
 public:
  static constexpr const char* kClassName = "PixelDecoder";
  static std::unique_ptr<PixelDecoder> load(const PartConfig& folder);

  std::string class_name() const override { return kClassName; }
  int64_t latent_channels() const override { return 3; }
  int64_t spatial_scale() const override { return 1; }
  int64_t latent_frames(int64_t frames) const override { return frames; }
  at::Tensor decode(const at::Tensor& latents) override { return latents; }
};

}  // namespace tessera
