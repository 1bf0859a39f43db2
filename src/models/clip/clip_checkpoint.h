#pragma once
// What both CLIP towers' checkpoints share: transformers 4 saved each tower's parameters under its prefix
// ("text_model.", "vision_model."), transformers 5 without it, and old checkpoints carry a position_ids buffer.
#include <string>

namespace tessera {

namespace io {
class WeightSource;
}

// Whether `source` holds the tower's parameters under `prefix`: true unless `probe` (a parameter's name without
// the prefix) is there as it is. The old position_ids buffer, under either layout, is forgotten.
bool clip_tower_prefixed(io::WeightSource& source, const std::string& prefix, const std::string& probe);

}  // namespace tessera
