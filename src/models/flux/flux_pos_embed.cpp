#include "src/models/flux/flux_pos_embed.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/embeddings.h"

namespace tessera {

FluxPosEmbed::FluxPosEmbed(std::vector<int64_t> axes_dims, double theta)
    : axes_dims_(std::move(axes_dims)), theta_(theta) {}

Outputs FluxPosEmbed::forward_impl(Args& args) {
  const at::Tensor& ids = args.tensor("ids");
  const auto axes = static_cast<int64_t>(axes_dims_.size());
  TESSERA_CHECK(ids.dim() == 2 && ids.size(1) == axes, "pos_embed takes position ids [tokens, ", axes,
                "] (one column per axes_dims_rope entry), got ", ids.sizes());
  std::vector<at::Tensor> cos_parts, sin_parts;
  for (int64_t axis = 0; axis < axes; ++axis) {
    auto [cos, sin] = rotary_frequencies(axes_dims_[axis], ids.select(1, axis), theta_);
    cos_parts.push_back(cos);
    sin_parts.push_back(sin);
  }
  return {at::cat(cos_parts, 1), at::cat(sin_parts, 1)};
}

}  // namespace tessera
