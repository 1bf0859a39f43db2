#pragma once
#include <array>
#include <optional>

#include "hooks/module.h"

namespace tessera {

// WanRotaryPosEmbed ("rope"): 3-D rotary frequencies for the patch grid of hidden_states [B, C, F, H, W].
// The head dim splits into frame, height and width parts (h = w = 2 * (head_dim / 6), frames take the
// rest). Outputs 0 and 1: cos and sin, [1, tokens, 1, head_dim] fp32, kept for the last grid and device (every
// step of a generation asks for the same ones; nothing writes into them).
class WanRotaryPosEmbed : public Module {
 public:
  WanRotaryPosEmbed(int64_t attention_head_dim, std::array<int64_t, 3> patch_size, int64_t max_seq_len,
                    double theta = 10000.0);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  std::array<int64_t, 3> patch_size_;
  std::array<int64_t, 3> part_dims_;  // frames, height, width
  at::Tensor freqs_cos_, freqs_sin_;  // [max_seq_len, head_dim]: the three parts side by side
  struct GridFrequencies {
    std::array<int64_t, 3> grid;
    c10::Device device;
    at::Tensor cos, sin;
  };
  std::optional<GridFrequencies> last_;
};

}  // namespace tessera
