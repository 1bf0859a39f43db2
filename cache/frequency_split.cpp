#include "cache/frequency_split.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera {

// diffusers shifts every dimension; the mask is constant along N and C, so shifting only (H, W) gives the same
// split and the same frames back.
at::Tensor shifted_spectrum(const at::Tensor& frames) {
  TESSERA_INTERNAL_ASSERT(frames.dim() == 4, "the frequency view wants frames [N, C, H, W], got ", frames.sizes());
  return at::fft_fftshift(at::fft_fft2(frames.to(at::kFloat)), at::IntArrayRef{-2, -1});
}

FrequencyParts split_frequency(const at::Tensor& frames) {
  const at::Tensor spectrum = shifted_spectrum(frames);
  const int64_t height = frames.size(2), width = frames.size(3);
  const int64_t radius = std::min(height, width) / 5;
  const auto options = at::TensorOptions().dtype(at::kLong).device(frames.device());
  const at::Tensor rows = (at::arange(height, options) - height / 2).pow(2).unsqueeze(1);
  const at::Tensor columns = (at::arange(width, options) - width / 2).pow(2).unsqueeze(0);
  const at::Tensor low_mask = (rows + columns) <= radius * radius;
  return {spectrum * low_mask, spectrum * low_mask.logical_not()};
}

at::Tensor frames_from_spectrum(const at::Tensor& spectrum) {
  return at::real(at::fft_ifft2(at::fft_ifftshift(spectrum, at::IntArrayRef{-2, -1})));
}

at::Tensor to_frames(const at::Tensor& output, const std::string& tensor_format) {
  if (tensor_format == "BCHW") {
    TESSERA_CHECK(output.dim() == 4, "FasterCache tensor_format BCHW needs a 4-D output, got ", output.sizes());
    return output;
  }
  TESSERA_CHECK(output.dim() == 5, "FasterCache tensor_format ", tensor_format, " needs a 5-D output, got ",
                output.sizes(), "; set tensor_format to the layout of the model's output");
  const at::Tensor frames_second = tensor_format == "BCFHW" ? output.transpose(1, 2) : output;
  return frames_second.flatten(0, 1);
}

at::Tensor from_frames(const at::Tensor& frames, const std::string& tensor_format, int64_t batch) {
  if (tensor_format == "BCHW") return frames;
  const at::Tensor frames_second = frames.unflatten(0, {batch, frames.size(0) / batch});
  return tensor_format == "BCFHW" ? frames_second.transpose(1, 2) : frames_second;
}

}  // namespace tessera
