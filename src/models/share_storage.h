#pragma once
// A sharded part that keeps some parameters in a narrower dtype than it runs them in (FP8 storage with
// --shard-weights: sharded_fp8.h). The loader (load_sharded.h) lays out each such parameter's share in the kept
// dtype, so that a rank holds, and the gathers move, the narrow bytes. The storage fills those shares itself, from
// reads of one share at a time in the dtype the parameter runs in (as an unsharded load reads the whole tensor before
// storing it), so loading holds no more than one share in the wider dtype beside the rank's slabs.
#include <c10/core/ScalarType.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "parallel/sharded_weights.h"
#include "src/io/load_weights.h"
#include "src/io/weight_source.h"

namespace tessera {

class Communicator;

class ShareStorage {
 public:
  virtual ~ShareStorage() = default;
  // The dtype the share of parameter `name` is kept and gathered in; nullopt where it is kept as it runs.
  virtual std::optional<c10::ScalarType> kept_dtype(const std::string& name) const = 0;
  // Fills the rank's pieces of the kept parameters (`kept`, by name: those kept_dtype names) from read(name): the
  // parameter's share in the dtype it runs in, read afresh at each call (a storage may read a share twice). Every
  // rank of `group` calls it: a storage may reduce over it.
  using ReadShare = std::function<at::Tensor(const std::string& name)>;
  virtual void store(const std::map<std::string, LocalPiece>& kept, const ReadShare& read, Communicator& group) = 0;
};

// The dtype the share of `name` is laid out in: `storage`'s kept dtype, else `runs_in`.
c10::ScalarType share_dtype(const ShareStorage* storage, const std::string& name, c10::ScalarType runs_in);

// io::load_weights into `pieces` (the rank's shares); with a `storage`, the pieces of the parameters it keeps are
// left to it (after every tensor is checked and the others are read): it reads them through ShareStorage::store.
void read_shares(torch::nn::Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                 c10::Device device, const std::map<std::string, LocalPiece>& pieces, ShareStorage* storage,
                 Communicator& group);

}  // namespace tessera
