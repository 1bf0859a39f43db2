#include "src/shapes/coordinate_channels.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "src/models/model.h"

namespace tessera {
namespace {

// Pixel centres of `count` cells spread over [-1, 1]; one cell sits at 0.
at::Tensor centres(int64_t count, const at::TensorOptions& options) {
  return (at::arange(count, options) + 0.5) * (2.0 / static_cast<double>(count)) - 1.0;
}

class CoordinateChannelsHook : public ModelHook {
 public:
  void pre_forward(Module& /*module*/, Args& args) override {
    args.set("hidden_states", append_coordinate_channels(args.tensor("hidden_states")));
  }
};

}  // namespace

at::Tensor append_coordinate_channels(const at::Tensor& x) {
  TESSERA_CHECK(x.dim() == 5, "coordinate channels are appended to [batch, channels, frames, height, width], got ",
                x.sizes());
  const int64_t batch = x.size(0), frames = x.size(2), height = x.size(3), width = x.size(4);
  const auto options = x.options();
  const at::Tensor t = centres(frames, options).view({1, 1, frames, 1, 1}).expand({batch, 1, frames, height, width});
  const at::Tensor y = centres(height, options).view({1, 1, 1, height, 1}).expand({batch, 1, frames, height, width});
  const at::Tensor w = centres(width, options).view({1, 1, 1, 1, width}).expand({batch, 1, frames, height, width});
  return at::cat({x, t, y, w}, 1);
}

void enable_coordinate_channels(Model& model) {
  HookRegistry::get_or_create(model).register_hook("coordinate_channels", std::make_shared<CoordinateChannelsHook>());
}

}  // namespace tessera
