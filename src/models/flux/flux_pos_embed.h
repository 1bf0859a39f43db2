#pragma once
#include <vector>

#include "hooks/module.h"

namespace tessera {

// diffusers' FluxPosEmbed ("pos_embed"): rotary frequencies from position ids, one rotary part per id column
// (FLUX.1: 16 dims for the index axis, 56 each for rows and columns), theta 10000, interleaved pairs.
// Argument: ids [S, axes] (text ids then image ids). Outputs 0 and 1: cos and sin, [S, head_dim] fp32.
class FluxPosEmbed : public Module {
 public:
  explicit FluxPosEmbed(std::vector<int64_t> axes_dims, double theta = 10000.0);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  std::vector<int64_t> axes_dims_;
  double theta_;
};

}  // namespace tessera
