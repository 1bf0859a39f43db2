#include "src/models/wan_vae/wan_vae_decoder.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/shard_sizes.h"
#include "src/io/weight_source.h"
#include "src/models/load_part.h"
#include "src/models/vae/row_split.h"
#include "src/models/wan_vae/autoencoder_kl_wan.h"

namespace tessera {

std::unique_ptr<WanVaeDecoder> WanVaeDecoder::load(const PartConfig& vae, c10::ScalarType dtype, c10::Device device) {
  vae.check_class(kClassName);
  const WanVaeConfig config = wan_vae_config_from_json(vae.json(), vae.path());
  return std::make_unique<WanVaeDecoder>(
      load_part([&config] { return std::make_shared<wan_vae::AutoencoderKLWan>(config); },
                io::WeightSource::open_dir(vae.dir()), dtype, device));
}

WanVaeDecoder::WanVaeDecoder(std::shared_ptr<wan_vae::AutoencoderKLWan> model) : model_(std::move(model)) {}
WanVaeDecoder::~WanVaeDecoder() = default;

const WanVaeConfig& WanVaeDecoder::config() const { return model_->config(); }
int64_t WanVaeDecoder::latent_channels() const { return config().z_dim; }
int64_t WanVaeDecoder::spatial_scale() const { return config().spatial_scale(); }
int64_t WanVaeDecoder::latent_frames(int64_t frames) const { return (frames - 1) / config().temporal_scale() + 1; }
int64_t WanVaeDecoder::temporal_scale() const { return config().temporal_scale(); }

namespace {

// Pixels leave in fp32, or fp64 from an fp64 model (which tests use to show the split decode is exact).
at::Tensor as_output(const at::Tensor& pixels) {
  return pixels.scalar_type() == at::kDouble ? pixels : pixels.to(at::kFloat);
}

}  // namespace

at::Tensor WanVaeDecoder::check_and_denormalise(const at::Tensor& latents) const {
  const WanVaeConfig& c = config();
  TESSERA_CHECK(latents.dim() == 5 && latents.size(1) == c.z_dim && latents.size(2) > 0 && latents.size(3) > 0 &&
                    latents.size(4) > 0,
                "the Wan VAE decodes latents [batch, z_dim = ", c.z_dim, ", frames, height, width], got ",
                latents.sizes());
  const at::Tensor x = latents.to(per_channel(c.latents_mean).options());
  // WanPipeline divides by 1 / std rather than multiplying by std; the same operations give the same rounding.
  return x / (1.0 / per_channel(c.latents_std)) + per_channel(c.latents_mean);
}

at::Tensor WanVaeDecoder::per_channel(const std::vector<double>& values) const {
  const at::Tensor parameter = model_->parameters().front();
  const auto options = at::TensorOptions().dtype(parameter.scalar_type()).device(parameter.device());
  return at::tensor(values, at::kDouble).to(options).view({1, config().z_dim, 1, 1, 1});
}

at::Tensor WanVaeDecoder::encode_band(const at::Tensor& video, Communicator* group) {
  const at::Tensor mean = per_channel(config().latents_mean);
  const at::Tensor pixels = video.to(mean.options());
  at::Tensor latents;
  if (group == nullptr || group->size() == 1) {
    latents = model_->encode_mean(pixels);
  } else {
    const int64_t scale = spatial_scale();
    TESSERA_CHECK(pixels.dim() == 5 && pixels.size(3) % scale == 0, "the Wan VAE encodes a video [B, 3, F, H, W] ",
                  "with H a multiple of ", scale, ", got ", pixels.sizes());
    const RowSplit split(*group, pixels.size(3) / scale);
    if (!split.takes_part()) {
      const int64_t frames = 1 + (pixels.size(2) - 1) / config().temporal_scale();
      return at::empty({pixels.size(0), config().z_dim, frames, 0, pixels.size(4) / scale}, mean.options());
    }
    latents = model_->encode_mean(pixels.narrow(3, split.first_row() * scale, split.rows() * scale), split.bands());
  }
  // As WanImageToVideoPipeline: minus the mean, times 1 / std.
  return (latents - mean) * (1.0 / per_channel(config().latents_std));
}

at::Tensor WanVaeDecoder::encode(const at::Tensor& video, Communicator* group) {
  const at::Tensor band = encode_band(video, group);
  if (group == nullptr || group->size() == 1) return band;
  std::vector<int64_t> rows = band_rows(video.size(3) / spatial_scale(), group->size());
  for (int64_t& value : rows) value /= spatial_scale();
  return group->all_gather(band.contiguous(), 3, rows);
}

at::Tensor WanVaeDecoder::decode(const at::Tensor& latents) {
  return as_output(model_->decode(check_and_denormalise(latents)));
}

std::vector<int64_t> WanVaeDecoder::band_rows(int64_t latent_height, int ranks) const {
  std::vector<int64_t> rows = shard_sizes(latent_height, ranks);
  for (int64_t& value : rows) value *= spatial_scale();
  return rows;
}

at::Tensor WanVaeDecoder::decode_band(const at::Tensor& latents, Communicator* group) {
  const at::Tensor z = check_and_denormalise(latents);
  if (group == nullptr || group->size() == 1) return as_output(model_->decode(z));
  const RowSplit split(*group, z.size(3));
  if (!split.takes_part()) {
    return at::empty({z.size(0), config().video_out_channels(), 1 + (z.size(2) - 1) * config().temporal_scale(), 0,
                      z.size(4) * spatial_scale()},
                     at::TensorOptions().dtype(as_output(z).scalar_type()).device(z.device()));
  }
  return as_output(model_->decode(z.narrow(3, split.first_row(), split.rows()), split.bands()));
}

at::Tensor WanVaeDecoder::decode_to_frames(const at::Tensor& latents, Communicator* group) {
  const at::Tensor band = pixels_to_frames(decode_band(latents, group));  // [B, F, rows, W, 3]
  if (group == nullptr || group->size() == 1) return band;
  return group->all_gather(band, 2, band_rows(latents.size(3), group->size()));
}

}  // namespace tessera
