#include "src/models/autoencoder_kl/decoder.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

namespace tessera::autoencoder_kl {

Decoder::Decoder(const AutoencoderKlConfig& config) {
  const std::vector<int64_t> channels(config.block_out_channels.rbegin(), config.block_out_channels.rend());
  const int64_t groups = config.norm_num_groups;
  conv_in_ = register_module("conv_in", std::make_shared<Conv2d>(config.latent_channels, channels[0], 3, 1, 1));
  mid_block_ = register_module("mid_block",
                               std::make_shared<MidBlock2D>(channels[0], groups, config.mid_block_add_attention));
  auto up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < channels.size(); ++i) {
    const int64_t in_channels = channels[i == 0 ? 0 : i - 1];
    up_blocks_.push_back(std::make_shared<UpDecoderBlock2D>(in_channels, channels[i], config.layers_per_block + 1,
                                                            groups, /*upsample=*/i + 1 < channels.size()));
    up_blocks->push_back(up_blocks_.back());
  }
  conv_norm_out_ = register_module("conv_norm_out", std::make_shared<GroupNorm>(groups, channels.back(), 1e-6));
  conv_out_ = register_module("conv_out", std::make_shared<Conv2d>(channels.back(), config.out_channels, 3, 1, 1));
}

at::Tensor Decoder::forward(const at::Tensor& z, const RowBands& rows) const {
  at::Tensor h = mid_block_->forward(conv_in_->forward(z, rows), rows);
  for (const auto& block : up_blocks_) h = block->forward(h, rows);
  at::Tensor activated = conv_norm_out_->forward(h, rows);
  h = at::Tensor();
  return conv_out_->forward(at::silu_(activated), rows);
}

}  // namespace tessera::autoencoder_kl
