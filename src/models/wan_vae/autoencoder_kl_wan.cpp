#include "src/models/wan_vae/autoencoder_kl_wan.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "common/check.h"
#include "src/models/wan_vae/patchify.h"

namespace tessera::wan_vae {
namespace {

constexpr int64_t kEncodeChunkFrames = 4;  // diffusers' _encode: the first frame, then 4 at a time

}  // namespace

AutoencoderKLWan::AutoencoderKLWan(const WanVaeConfig& config) : config_(config) {
  const CausalConv3d::Triple unit{1, 1, 1};
  encoder_ = register_module("encoder", std::make_shared<WanEncoder3d>(config));
  quant_conv_ = register_module("quant_conv", std::make_shared<CausalConv3d>(2 * config.z_dim, 2 * config.z_dim, unit));
  post_quant_conv_ = register_module("post_quant_conv", std::make_shared<CausalConv3d>(config.z_dim, config.z_dim, unit));
  decoder_ = register_module("decoder", std::make_shared<WanDecoder3d>(config));
}

at::Tensor AutoencoderKLWan::decode(const at::Tensor& z, const RowBands& rows) {
  TESSERA_CHECK(z.dim() == 5 && z.size(1) == config_.z_dim && z.size(2) > 0, "AutoencoderKLWan.decode: latents must be [B, z_dim = ",
                config_.z_dim, ", frames, height, width], got ", z.sizes());
  torch::NoGradGuard no_grad;
  const at::Tensor x = post_quant_conv_->forward(z, at::Tensor(), rows);
  FeatureCache cache;
  at::Tensor pixels;
  int64_t filled = 0;
  for (int64_t frame = 0; frame < x.size(2); ++frame) {
    cache.start_chunk();
    const at::Tensor chunk =
        unpatchify(decoder_->forward(x.narrow(2, frame, 1), cache, rows), config_.patch_size).clamp(-1.0, 1.0);
    if (!pixels.defined()) {
      // Written in place chunk by chunk, rather than concatenated at the end, so the frames are held once.
      const int64_t frames = 1 + (x.size(2) - 1) * config_.temporal_scale();
      pixels = at::empty({chunk.size(0), chunk.size(1), frames, chunk.size(3), chunk.size(4)}, chunk.options());
    }
    pixels.narrow(2, filled, chunk.size(2)).copy_(chunk);
    filled += chunk.size(2);
  }
  TESSERA_INTERNAL_ASSERT(filled == pixels.size(2), "decoded ", filled, " frames, expected ", pixels.size(2));
  return pixels;
}

at::Tensor AutoencoderKLWan::encode_mean(const at::Tensor& pixels, const RowBands& rows) {
  TESSERA_CHECK(pixels.dim() == 5 && pixels.size(1) == config_.video_in_channels() && pixels.size(2) > 0,
                "AutoencoderKLWan.encode: video must be [B, channels = ", config_.video_in_channels(),
                ", frames, height, width], got ", pixels.sizes());
  const int64_t scale = config_.spatial_scale();
  TESSERA_CHECK(pixels.size(3) % scale == 0 && pixels.size(4) % scale == 0, "AutoencoderKLWan.encode: height and ",
                "width must be multiples of ", scale, ", got ", pixels.size(3), " x ", pixels.size(4));
  torch::NoGradGuard no_grad;
  const at::Tensor video = patchify(pixels, config_.patch_size);
  FeatureCache cache;
  std::vector<at::Tensor> outputs;
  // As diffusers: frames past the last whole chunk of four are left out.
  const int64_t chunks = 1 + (video.size(2) - 1) / kEncodeChunkFrames;
  for (int64_t i = 0; i < chunks; ++i) {
    cache.start_chunk();
    const at::Tensor chunk = i == 0 ? video.narrow(2, 0, 1) : video.narrow(2, 1 + kEncodeChunkFrames * (i - 1),
                                                                            kEncodeChunkFrames);
    outputs.push_back(encoder_->forward(chunk, cache, rows));
  }
  const at::Tensor moments = quant_conv_->forward(at::cat(outputs, 2), at::Tensor(), rows);
  return moments.narrow(1, 0, config_.z_dim);  // [mean, log-variance] along the channels
}

}  // namespace tessera::wan_vae
