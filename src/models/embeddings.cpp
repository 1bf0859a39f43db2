#include "src/models/embeddings.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/check.h"

namespace tessera {

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                              double downscale_freq_shift, double scale, double max_period) {
  TESSERA_CHECK(timesteps.dim() == 1, "timestep_embedding takes a 1-D tensor, got ", timesteps.sizes());
  const int64_t half = dim / 2;
  const auto options = at::TensorOptions().dtype(at::kFloat).device(timesteps.device());
  const at::Tensor exponent = at::arange(0, half, options) * (-std::log(max_period)) / (half - downscale_freq_shift);
  const at::Tensor angles = timesteps.to(at::kFloat).unsqueeze(1) * at::exp(exponent).unsqueeze(0) * scale;
  at::Tensor embedding = flip_sin_to_cos ? at::cat({at::cos(angles), at::sin(angles)}, -1)
                                         : at::cat({at::sin(angles), at::cos(angles)}, -1);
  if (dim % 2 == 1) embedding = at::constant_pad_nd(embedding, {0, 1});
  return embedding;
}

std::pair<at::Tensor, at::Tensor> rotary_frequencies(int64_t dim, int64_t positions, double theta) {
  return rotary_frequencies(dim, at::arange(positions, at::kDouble), theta);
}

std::pair<at::Tensor, at::Tensor> rotary_frequencies(int64_t dim, const at::Tensor& positions, double theta) {
  TESSERA_CHECK(dim % 2 == 0, "rotary dimension must be even, got ", dim);
  TESSERA_CHECK(positions.dim() == 1, "rotary positions must be 1-D, got ", positions.sizes());
  const auto float64 = at::TensorOptions().dtype(at::kDouble).device(positions.device());
  const at::Tensor inverse = 1.0 / at::pow(theta, at::arange(0, dim, 2, float64) / static_cast<double>(dim));
  const at::Tensor angles = at::outer(positions.to(at::kFloat).to(at::kDouble), inverse);
  return {angles.cos().repeat_interleave(2, 1).to(at::kFloat), angles.sin().repeat_interleave(2, 1).to(at::kFloat)};
}

}  // namespace tessera
