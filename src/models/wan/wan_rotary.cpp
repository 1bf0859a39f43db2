#include "src/models/wan/wan_rotary.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/embeddings.h"

namespace tessera {

WanRotaryPosEmbed::WanRotaryPosEmbed(int64_t attention_head_dim, std::array<int64_t, 3> patch_size,
                                     int64_t max_seq_len, double theta)
    : patch_size_(patch_size) {
  const int64_t spatial = 2 * (attention_head_dim / 6);
  part_dims_ = {attention_head_dim - 2 * spatial, spatial, spatial};
  std::vector<at::Tensor> cos_parts, sin_parts;
  for (const int64_t dim : part_dims_) {
    auto [cos, sin] = rotary_frequencies(dim, max_seq_len, theta);
    cos_parts.push_back(cos);
    sin_parts.push_back(sin);
  }
  // Not persistent in diffusers (absent from checkpoints), so buffers here would be "missing" on load.
  freqs_cos_ = at::cat(cos_parts, 1);
  freqs_sin_ = at::cat(sin_parts, 1);
}

Outputs WanRotaryPosEmbed::forward_impl(Args& args) {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  TESSERA_CHECK(hidden_states.dim() == 5, "rope takes hidden_states [batch, channels, frames, height, width], got ",
                hidden_states.sizes());
  std::array<int64_t, 3> grid;
  for (int i = 0; i < 3; ++i) {
    grid[i] = hidden_states.size(2 + i) / patch_size_[i];
    TESSERA_CHECK(grid[i] <= freqs_cos_.size(0), "rope: ", grid[i], " patches along dim ", 2 + i,
                  " exceed rope_max_seq_len ", freqs_cos_.size(0));
  }
  const auto device = hidden_states.device();
  if (last_ && last_->grid == grid && last_->device == device) return {last_->cos, last_->sin};
  auto grid_frequencies = [&](const at::Tensor& table) {
    const auto parts = table.split_with_sizes({part_dims_[0], part_dims_[1], part_dims_[2]}, 1);
    std::vector<at::Tensor> expanded;
    for (int axis = 0; axis < 3; ++axis) {
      std::vector<int64_t> view_shape{1, 1, 1, part_dims_[axis]};
      view_shape[axis] = grid[axis];
      expanded.push_back(parts[axis].narrow(0, 0, grid[axis]).view(view_shape).expand({grid[0], grid[1], grid[2], -1}));
    }
    return at::cat(expanded, -1).reshape({1, grid[0] * grid[1] * grid[2], 1, -1}).to(device);
  };
  last_ = GridFrequencies{
      .grid = grid, .device = device, .cos = grid_frequencies(freqs_cos_), .sin = grid_frequencies(freqs_sin_)};
  return {last_->cos, last_->sin};
}

}  // namespace tessera
