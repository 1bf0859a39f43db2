#pragma once
// The automatic judge of generated shapes: is the named colour there, is it where the caption says, and
// does it move the way the caption says. It looks only at pixels, so it judges any generator.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "src/shapes/shapes_scene.h"

namespace tessera::shapes {

struct Verdict {
  bool correct = false;
  std::string reason;  // what was found, e.g. "centroid (0.31, 0.27) in top left" or why it failed
};

// `frames`: uint8 [frames, height, width, 3]. A pixel counts when it is near the scene's colour; enough of
// them must be there in every frame; their centroid must lie in the named quadrant, at least 8% of the frame
// off the middle lines (or within 15% of the middle for "center"); for a moving shape the centroid must travel at least a sixth of the frame in the
// named direction from the first frame to the last, more than it drifts across.
Verdict judge(const at::Tensor& frames, const Scene& scene);

// The fixed prompt set the embedded model is judged on (tests, the cache study, the README's grid): 18 stills
// covering every colour and shape with the places in turn, and 6 moving shapes covering every direction.
std::vector<Scene> judge_scenes();

}  // namespace tessera::shapes
