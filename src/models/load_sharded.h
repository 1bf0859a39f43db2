#pragma once
// Filling a part built shape-only (load_part.h) with this rank's share of its weights (--shard-weights,
// parallel/sharded_weights.h): each parameter's share is read straight from the mapped safetensors into the rank's
// buffer, so no rank ever holds a whole copy, not even while loading; buffers load whole. The part then carries the
// hooks that gather each block's weights just before it runs (parallel/weight_gather_hooks.h).
#include <c10/core/Device.h>

#include <memory>

#include "src/io/load_weights.h"
#include "src/io/weight_source.h"

namespace tessera {

class Communicator;
class Module;
class ShareStorage;

// Every rank of `group` must call it, for the same part. With a `storage`, the parameters it names keep their
// shares in its dtype (FP8 storage, share_storage.h).
void load_sharded_weights(Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                          c10::Device device, std::shared_ptr<Communicator> group, ShareStorage* storage = nullptr);

}  // namespace tessera
