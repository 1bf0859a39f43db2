#include "src/models/autoencoder_kl/autoencoder_kl_decoder.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/shard_sizes.h"
#include "src/io/weight_source.h"
#include "src/models/autoencoder_kl/autoencoder_kl.h"
#include "src/models/load_part.h"
#include "src/models/vae/row_split.h"

namespace tessera {

std::unique_ptr<AutoencoderKlDecoder> AutoencoderKlDecoder::load(const PartConfig& vae, c10::ScalarType dtype,
                                                                 c10::Device device) {
  vae.check_class(kClassName);
  const AutoencoderKlConfig config = autoencoder_kl_config_from_json(vae.json(), vae.path());
  io::WeightSource source = io::WeightSource::open_dir(vae.dir());
  source.keep_only_prefixes({"decoder.", "post_quant_conv."});  // the encoder and quant_conv stay on disk
  return std::make_unique<AutoencoderKlDecoder>(
      load_part([&config] { return std::make_shared<autoencoder_kl::AutoencoderKL>(config); }, source, dtype, device));
}

AutoencoderKlDecoder::AutoencoderKlDecoder(std::shared_ptr<autoencoder_kl::AutoencoderKL> model)
    : model_(std::move(model)) {}
AutoencoderKlDecoder::~AutoencoderKlDecoder() = default;

const AutoencoderKlConfig& AutoencoderKlDecoder::config() const { return model_->config(); }
int64_t AutoencoderKlDecoder::latent_channels() const { return config().latent_channels; }
int64_t AutoencoderKlDecoder::spatial_scale() const { return config().spatial_scale(); }

int64_t AutoencoderKlDecoder::latent_frames(int64_t frames) const {
  TESSERA_CHECK(frames == 1, "AutoencoderKL decodes images: ask for 1 frame, not ", frames);
  return 1;
}

namespace {

// Pixels leave in fp32, or fp64 from an fp64 model (which tests use to show the split decode is exact), with
// the frame dim back: [B, C, H, W] -> [B, C, 1, H, W].
at::Tensor as_output(const at::Tensor& pixels) {
  return (pixels.scalar_type() == at::kDouble ? pixels : pixels.to(at::kFloat)).unsqueeze(2);
}

}  // namespace

at::Tensor AutoencoderKlDecoder::check_and_denormalise(const at::Tensor& latents) const {
  const AutoencoderKlConfig& c = config();
  TESSERA_CHECK(latents.dim() == 5 && latents.size(1) == c.latent_channels && latents.size(2) == 1 &&
                    latents.size(3) > 0 && latents.size(4) > 0,
                "AutoencoderKL decodes latents [batch, latent_channels = ", c.latent_channels, ", 1 frame, height, ",
                "width], got ", latents.sizes());
  const at::Tensor parameter = model_->parameters().front();
  const at::Tensor z = latents.squeeze(2).to(at::TensorOptions().dtype(parameter.scalar_type()).device(parameter.device()));
  // FluxPipeline: latents / scaling_factor + shift_factor; pipelines without a shift only divide.
  const at::Tensor scaled = z / c.scaling_factor;
  return c.shift_factor ? scaled + *c.shift_factor : scaled;
}

at::Tensor AutoencoderKlDecoder::decode(const at::Tensor& latents) {
  return as_output(model_->decode(check_and_denormalise(latents)));
}

std::vector<int64_t> AutoencoderKlDecoder::band_rows(int64_t latent_height, int ranks) const {
  std::vector<int64_t> rows = shard_sizes(latent_height, ranks);
  for (int64_t& value : rows) value *= spatial_scale();
  return rows;
}

at::Tensor AutoencoderKlDecoder::decode_band(const at::Tensor& latents, Communicator* group) {
  const at::Tensor z = check_and_denormalise(latents);
  if (group == nullptr || group->size() == 1) return as_output(model_->decode(z));
  const RowSplit split(*group, z.size(2));
  if (!split.takes_part()) {
    return as_output(at::empty({z.size(0), config().out_channels, 0, z.size(3) * spatial_scale()}, z.options()));
  }
  return as_output(model_->decode(z.narrow(2, split.first_row(), split.rows()), split.bands()));
}

at::Tensor AutoencoderKlDecoder::decode_to_frames(const at::Tensor& latents, Communicator* group) {
  const at::Tensor band = pixels_to_frames(decode_band(latents, group));  // [B, 1, rows, W, 3]
  if (group == nullptr || group->size() == 1) return band;
  return group->all_gather(band, 2, band_rows(latents.size(3), group->size()));
}

}  // namespace tessera
