#pragma once
// The Wan VAE (2.1, or Wan2.2's) as a pipeline's decoder (latent_decoder.h): latents as the transformer leaves them are
// de-normalised with the config's latents_mean / latents_std (as WanPipeline does) and decoded. decode_to_frames
// splits the decode over a group of ranks by rows: each rank decodes one horizontal band of every frame,
// exchanging only the rows its convolutions see across the band's edges (and, once, the keys and values of the
// middle block's attention), so no rank holds more than its band of the activations.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <vector>

#include "src/models/latent_decoder.h"
#include "src/models/part_config.h"
#include "src/models/wan_vae/wan_vae_config.h"

namespace tessera {

namespace wan_vae {
class AutoencoderKLWan;
}

class WanVaeDecoder : public LatentDecoder {
 public:
  static constexpr const char* kClassName = "AutoencoderKLWan";
  // The VAE in `vae` (config.json and diffusion_pytorch_model.safetensors), its weights read straight into
  // `dtype` on `device`.
  static std::unique_ptr<WanVaeDecoder> load(const PartConfig& vae, c10::ScalarType dtype, c10::Device device);
  explicit WanVaeDecoder(std::shared_ptr<wan_vae::AutoencoderKLWan> model);
  ~WanVaeDecoder() override;

  std::string class_name() const override { return kClassName; }
  int64_t latent_channels() const override;
  int64_t spatial_scale() const override;
  int64_t latent_frames(int64_t frames) const override;
  int64_t temporal_scale() const override;
  // latents [B, z_dim, f, h, w] (any float dtype) -> pixels [B, 3, F, s h, s w] (s: spatial_scale(), 8 for
  // Wan 2.1, 16 for Wan2.2) in fp32 (fp64 from an fp64 model), clamped to [-1, 1].
  at::Tensor decode(const at::Tensor& latents) override;
  at::Tensor decode_to_frames(const at::Tensor& latents, Communicator* group) override;
  // Video [B, 3, F, H, W] in [-1, 1] -> the posterior's mean, normalised with latents_mean / latents_std as the
  // transformer's latents are (WanImageToVideoPipeline's condition latents), in the VAE's dtype. With a `group`,
  // the encode is split by row bands as the decode is (each rank encodes the pixel rows of its latent rows, and
  // holds only their activations), and every rank gets the whole result.
  at::Tensor encode(const at::Tensor& video, Communicator* group = nullptr);
  // This rank's band of encode(video, group)'s latent rows: rows [offset, offset + rows) of band_rows(h, group
  // size) / spatial_scale(); empty on a rank beyond the latent height.
  at::Tensor encode_band(const at::Tensor& video, Communicator* group);

  // This rank's band of decode(latents) with the rows split over `group`: pixel rows [offset, offset + rows)
  // of band_rows(h, group size). Ranks beyond the latent height hold no band (zero rows) and compute nothing.
  at::Tensor decode_band(const at::Tensor& latents, Communicator* group);
  // The pixel rows each of `ranks` ranks decodes for latents `latent_height` rows high: the latent rows split
  // as evenly as possible (shard_sizes), times the spatial scale.
  std::vector<int64_t> band_rows(int64_t latent_height, int ranks) const;

  const WanVaeConfig& config() const;
  wan_vae::AutoencoderKLWan& model() { return *model_; }

 private:
  at::Tensor check_and_denormalise(const at::Tensor& latents) const;
  // latents_mean or latents_std as [1, z_dim, 1, 1, 1] in the VAE's dtype and device.
  at::Tensor per_channel(const std::vector<double>& values) const;

  std::shared_ptr<wan_vae::AutoencoderKLWan> model_;
};

}  // namespace tessera
