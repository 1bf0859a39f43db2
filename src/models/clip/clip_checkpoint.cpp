#include "src/models/clip/clip_checkpoint.h"

#include "common/check.h"
#include "src/io/weight_source.h"

namespace tessera {

bool clip_tower_prefixed(io::WeightSource& source, const std::string& prefix, const std::string& probe) {
  const bool prefixed = !source.contains(probe);
  source.forget(detail::concat(prefixed ? prefix : std::string(), "embeddings.position_ids"));
  return prefixed;
}

}  // namespace tessera
