#pragma once
// FLUX.1's (and Stable Diffusion's) AutoencoderKL as a pipeline's decoder (latent_decoder.h): an image model,
// one frame. Latents as the transformer leaves them are de-normalised as FluxPipeline does before vae.decode,
// latents / scaling_factor + shift_factor (no shift when the config's is null), and decoded. decode_to_frames
// splits the decode over a group of ranks by rows: each rank decodes one horizontal band, exchanging only the
// rows its convolutions see across the band's edges, the per-group sums of every group norm (which normalises
// over the whole image), and once the keys and values of the middle block's attention; so no rank holds more
// than its band of the activations.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <vector>

#include "src/models/autoencoder_kl/autoencoder_kl_config.h"
#include "src/models/latent_decoder.h"
#include "src/models/part_config.h"

namespace tessera {

namespace autoencoder_kl {
class AutoencoderKL;
}

class AutoencoderKlDecoder : public LatentDecoder {
 public:
  static constexpr const char* kClassName = "AutoencoderKL";
  // The VAE in `vae` (config.json and diffusion_pytorch_model.safetensors): the decoder's weights (and
  // post_quant_conv's) read straight into `dtype` on `device`; the encoder's are not read.
  static std::unique_ptr<AutoencoderKlDecoder> load(const PartConfig& vae, c10::ScalarType dtype, c10::Device device);
  explicit AutoencoderKlDecoder(std::shared_ptr<autoencoder_kl::AutoencoderKL> model);
  ~AutoencoderKlDecoder() override;

  std::string class_name() const override { return kClassName; }
  int64_t latent_channels() const override;
  int64_t spatial_scale() const override;
  // An image model: one frame, and one latent frame for it.
  int64_t latent_frames(int64_t frames) const override;
  // latents [B, latent_channels, 1, h, w] (any float dtype) -> pixels [B, out_channels, 1, h * scale,
  // w * scale] in fp32 (fp64 from an fp64 model), unclamped.
  at::Tensor decode(const at::Tensor& latents) override;
  at::Tensor decode_to_frames(const at::Tensor& latents, Communicator* group) override;

  // This rank's band of decode(latents) with the rows split over `group`: pixel rows [offset, offset + rows)
  // of band_rows(h, group size). Ranks beyond the latent height hold no band (zero rows) and compute nothing.
  at::Tensor decode_band(const at::Tensor& latents, Communicator* group);
  // The pixel rows each of `ranks` ranks decodes for latents `latent_height` rows high.
  std::vector<int64_t> band_rows(int64_t latent_height, int ranks) const;

  const AutoencoderKlConfig& config() const;
  autoencoder_kl::AutoencoderKL& model() { return *model_; }

 private:
  // [B, C, 1, h, w] -> de-normalised [B, C, h, w] in the model's dtype, on its device.
  at::Tensor check_and_denormalise(const at::Tensor& latents) const;

  std::shared_ptr<autoencoder_kl::AutoencoderKL> model_;
};

}  // namespace tessera
