#include "src/models/wan_vae/wan_resample.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera::wan_vae {
namespace {

bool upsamples(ResampleMode mode) { return mode == ResampleMode::upsample2d || mode == ResampleMode::upsample3d; }

// [B, C, T, H, W] <-> [B*T, C, H, W]: the spatial layers see each frame as an image.
at::Tensor frames_as_images(const at::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4}).reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}
at::Tensor images_as_frames(const at::Tensor& images, int64_t batch) {
  return images.view({batch, images.size(0) / batch, images.size(1), images.size(2), images.size(3)})
      .permute({0, 2, 1, 3, 4});
}

}  // namespace

WanResample::WanResample(int64_t dim, ResampleMode mode, std::optional<int64_t> upsample_out_dim) : mode_(mode) {
  // diffusers nests the Conv2d in an nn.Sequential after the parameterless upsample or pad: "resample.1".
  auto resample = register_module("resample", std::make_shared<torch::nn::Module>());
  conv_ = upsamples(mode) ? std::make_shared<Conv2d>(dim, upsample_out_dim.value_or(dim / 2), 3, 1, 1)
                          : std::make_shared<Conv2d>(dim, dim, 3, 2, 0);
  resample->register_module("1", conv_);
  if (mode == ResampleMode::upsample3d) {
    time_conv_ = register_module("time_conv", std::make_shared<CausalConv3d>(dim, dim * 2, CausalConv3d::Triple{3, 1, 1},
                                                                             CausalConv3d::Triple{1, 1, 1},
                                                                             CausalConv3d::Triple{1, 0, 0}));
  } else if (mode == ResampleMode::downsample3d) {
    time_conv_ = register_module("time_conv", std::make_shared<CausalConv3d>(dim, dim, CausalConv3d::Triple{3, 1, 1},
                                                                             CausalConv3d::Triple{2, 1, 1}));
  }
}

at::Tensor WanResample::upsample_time(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) const {
  CachedFrames& slot = cache.next_slot();
  // The first chunk (the clip's first frame) is not upsampled in time.
  if (!slot.visited) {
    slot.visited = true;
    return x;
  }
  // The second chunk's window starts from zeros, and keeps a zero frame in front of its own (diffusers' "Rep").
  at::Tensor keep = frames_to_keep(x, slot.frames);
  if (keep.size(2) < 2 && !slot.frames.defined()) keep = at::cat({at::zeros_like(keep), keep}, 2);
  const at::Tensor doubled = time_conv_->forward(x, slot.frames, rows);
  slot.frames = keep;
  // [B, 2C, T, H, W]: the two output frames of each input frame, interleaved in time.
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  return doubled.reshape({b, 2, c, t, h, w}).permute({0, 2, 3, 1, 4, 5}).reshape({b, c, 2 * t, h, w});
}

at::Tensor WanResample::downsample_time(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) const {
  CachedFrames& slot = cache.next_slot();
  // The first chunk (one frame) passes through; later chunks pair each frame with the one before it.
  if (!slot.visited) {
    slot.visited = true;
    slot.frames = x.clone();
    return x;
  }
  const at::Tensor previous = slot.frames.narrow(2, slot.frames.size(2) - 1, 1);
  slot.frames = x.narrow(2, x.size(2) - 1, 1).clone();
  return time_conv_->forward(at::cat({previous, x}, 2), at::Tensor(), rows);
}

at::Tensor WanResample::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  const at::Tensor timed = mode_ == ResampleMode::upsample3d ? upsample_time(x, cache, rows) : x;
  const int64_t batch = timed.size(0);
  at::Tensor images = frames_as_images(timed);
  if (upsamples(mode_)) {
    // nearest-exact at scale 2 repeats each pixel, so a band's rows double in place.
    images = at::_upsample_nearest_exact2d(images, {2 * images.size(2), 2 * images.size(3)});
  } else {
    // diffusers pads one zero row below and one zero column to the right, then convolves with stride 2: output
    // row i reads input rows 2i to 2i + 2. A band (an even number of rows at an even offset) needs the one row
    // below it, the next band's first (zeros below the image), and none above.
    const at::Tensor below = rows.with_halo(images, 1);
    images = at::constant_pad_nd(below.narrow(2, 1, images.size(2) + 1), {0, 1});
  }
  const at::Tensor spatial = images_as_frames(conv_->forward(images, rows), batch);
  return mode_ == ResampleMode::downsample3d ? downsample_time(spatial, cache, rows) : spatial;
}

}  // namespace tessera::wan_vae
