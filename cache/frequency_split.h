#pragma once
// FasterCache's frequency view of a video output: per frame, the 2-D spectrum over (H, W) with the zero
// frequency shifted to the centre, split into a low-frequency disc and the rest.
#include <ATen/core/Tensor.h>

#include <string>

namespace tessera {

struct FrequencyParts {
  at::Tensor low;   // complex, [N, C, H, W]: inside the disc of radius min(H, W) / 5 around the centre
  at::Tensor high;  // complex, the complement; low + high is the whole shifted spectrum
};

// The complex spectrum of `frames` [N, C, H, W] (any real dtype; computed in float32) over (H, W), the zero
// frequency shifted to the centre.
at::Tensor shifted_spectrum(const at::Tensor& frames);
// shifted_spectrum(frames), split into the low-frequency disc and the rest.
FrequencyParts split_frequency(const at::Tensor& frames);
// The real frames whose shifted spectrum is `spectrum` (the inverse of split_frequency's transform).
at::Tensor frames_from_spectrum(const at::Tensor& spectrum);

// A model output in `tensor_format` ("BCFHW", "BFCHW", "BCHW") as frames [B * F, C, H, W], and back.
at::Tensor to_frames(const at::Tensor& output, const std::string& tensor_format);
at::Tensor from_frames(const at::Tensor& frames, const std::string& tensor_format, int64_t batch);

}  // namespace tessera
