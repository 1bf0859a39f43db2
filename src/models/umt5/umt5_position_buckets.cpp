#include "src/models/umt5/umt5_position_buckets.h"

#include <ATen/ATen.h>

#include <cmath>

namespace tessera {

at::Tensor relative_position_buckets(int64_t query_length, int64_t key_length, int64_t num_buckets,
                                     int64_t max_distance, c10::Device device) {
  const auto options = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor relative =
      at::arange(key_length, options).unsqueeze(0) - at::arange(query_length, options).unsqueeze(1);
  const int64_t per_direction = num_buckets / 2;
  const int64_t exact = per_direction / 2;
  const at::Tensor direction = (relative > 0).to(at::kLong) * per_direction;
  const at::Tensor distance = relative.abs();
  // The same float32 operations as transformers, so that a distance on a bucket boundary lands alike.
  const at::Tensor log_ratio = at::log(distance.to(at::kFloat) / static_cast<double>(exact)) /
                               std::log(static_cast<double>(max_distance) / static_cast<double>(exact)) *
                               static_cast<double>(per_direction - exact);
  const at::Tensor far = at::clamp_max(log_ratio.to(at::kLong) + exact, per_direction - 1);
  return direction + at::where(distance < exact, distance, far);
}

}  // namespace tessera
