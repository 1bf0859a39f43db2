#pragma once
// A sharded part that keeps some parameters in a narrower dtype than it runs them in (FP8 storage with
// --shard-weights: sharded_fp8.h). The loader (load_sharded.h) lays out each such parameter's share in the kept
// dtype, so that a rank holds, and the gathers move, the narrow bytes. It reads the share in the dtype the parameter
// runs in, as an unsharded load reads the whole tensor before storing it, and hands it over to be stored.
#include <c10/core/ScalarType.h>

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
  // Writes each share read (`read`: the parameters kept_dtype names, in the dtype they run in) into the rank's
  // piece of the kept dtype (`kept`, the same names). Every rank of `group` calls it: a storage may reduce over it.
  virtual void store(const std::map<std::string, LocalPiece>& read, const std::map<std::string, LocalPiece>& kept,
                     Communicator& group) = 0;
};

// The dtype the share of `name` is laid out in: `storage`'s kept dtype, else `runs_in`.
c10::ScalarType share_dtype(const ShareStorage* storage, const std::string& name, c10::ScalarType runs_in);

// io::load_weights into `pieces` (the rank's shares); with a `storage`, the shares it keeps are read in the dtype
// they run in (dtype_of), into temporaries of the rank's share only, and stored into their pieces.
void read_shares(torch::nn::Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                 c10::Device device, const std::map<std::string, LocalPiece>& pieces, ShareStorage* storage,
                 Communicator& group);

}  // namespace tessera
