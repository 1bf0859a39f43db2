#pragma once
// diffusers' WanResample: 2x spatial up- or downsampling frame by frame ("resample.1" is the Conv2d, after a
// nearest 2x upsample or a one-pixel zero pad right and bottom), and for the 3-D modes a temporal one
// ("time_conv"): the upsample doubles the frames of every chunk after the first, the downsample halves them.
#include "src/models/wan_vae/causal_conv3d.h"
#include "src/models/vae/conv2d.h"
#include "src/models/wan_vae/vae_layer.h"

#include <memory>
#include <optional>

namespace tessera::wan_vae {

enum class ResampleMode { upsample2d, upsample3d, downsample2d, downsample3d };

class WanResample : public VaeLayer {
 public:
  // Upsamples give `upsample_out_dim` channels; by default `dim / 2`, as diffusers' WanUpBlock builds them (Wan2.2's
  // residual up blocks keep `dim`).
  WanResample(int64_t dim, ResampleMode mode, std::optional<int64_t> upsample_out_dim = std::nullopt);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  at::Tensor upsample_time(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) const;
  at::Tensor downsample_time(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) const;

  ResampleMode mode_;
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<CausalConv3d> time_conv_;
};

}  // namespace tessera::wan_vae
