#pragma once
// FP8 storage of a sharded transformer (--shard-weights with --weights fp8 or fp8-scaled; docs/shard_weights.md).
// The layers FP8 takes (layerwise_casting.h's fp8_layers, by the class's patterns) keep their shares in
// float8_e4m3fn, so a rank holds 1/N of the FP8 bytes and a block's gather moves FP8 bytes; the gathered weights
// are the very bits the unsharded storage holds.
// - fp8 (layerwise casting): weights and biases; the cast is elementwise, so each share is cast as it is read.
// - fp8-scaled: weights only (biases stay in the dtype they run in). A row's scale needs the row's largest |w|,
//   and a rank's share may hold part of a row: each rank takes the largest |w| of each row part it holds, one
//   all-reduce (max) over the group gives every row's, and each rank reads its share again and quantises it with
//   them (so loading holds one share in the wider dtype at a time, not all of them). The fp32
//   scales (4 bytes per row) are kept whole on every rank, in the layer's hook, as unsharded.
// After loading, hook() hooks the layers to compute in the dtype they were read in; nothing is cast again.
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/io/load_weights.h"
#include "src/models/layerwise_casting.h"
#include "src/models/share_storage.h"
#include "src/models/weight_storage.h"

namespace tessera {

class Model;

class ShardedFp8Storage final : public ShareStorage {
 public:
  // On `model` built shape-only, before its shares are read: the layers `storage` (fp8 or fp8-scaled) takes, each
  // computing in dtype_of(its weight). Throws tessera::Error as store_weights would (a class without patterns, a
  // model with nothing to store, a dtype FP8 cannot compute in).
  ShardedFp8Storage(Model& model, WeightStorage storage, const io::DtypeOf& dtype_of);

  std::optional<c10::ScalarType> kept_dtype(const std::string& name) const override;
  void store(const std::map<std::string, LocalPiece>& kept, const ReadShare& read, Communicator& group) override;

  // Hooks the layers of `model` (after store): they compute as under the unsharded storage; logs what this rank
  // holds. Returns the layers hooked.
  int64_t hook(Model& model);

 private:
  struct Layer {
    Fp8Layer layer;
    c10::ScalarType compute_dtype;
    std::vector<int64_t> shape;  // of the weight
    at::Tensor scale;            // fp8-scaled: fp32 [rows], after store
  };
  void store_scaled(const std::map<std::string, LocalPiece>& kept, const ReadShare& read, Communicator& group);

  WeightStorage storage_;
  std::vector<Layer> layers_;
  std::map<std::string, c10::ScalarType> kept_;  // parameter name -> float8_e4m3fn
};

}  // namespace tessera
