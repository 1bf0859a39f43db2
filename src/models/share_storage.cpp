#include "src/models/share_storage.h"

#include <ATen/ATen.h>

namespace tessera {

c10::ScalarType share_dtype(const ShareStorage* storage, const std::string& name, c10::ScalarType runs_in) {
  if (storage == nullptr) return runs_in;
  return storage->kept_dtype(name).value_or(runs_in);
}

void read_shares(torch::nn::Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                 c10::Device device, const std::map<std::string, LocalPiece>& pieces, ShareStorage* storage,
                 Communicator& group) {
  if (storage == nullptr) {
    io::load_weights(part, source, dtype_of, device, pieces);
    return;
  }
  // The kept ones read nothing here (an empty piece), but their names, shapes and dtypes are checked with the rest.
  std::map<std::string, LocalPiece> into = pieces, kept;
  for (auto& [name, piece] : into) {
    if (!storage->kept_dtype(name)) continue;
    kept[name] = piece;
    piece = LocalPiece{.begin = 0, .destination = piece.destination.narrow(0, 0, 0)};
  }
  io::load_weights(part, source, dtype_of, device, into);
  storage->store(
      kept,
      [&](const std::string& name) {
        const LocalPiece& piece = kept.at(name);
        at::Tensor share =
            at::empty({piece.destination.numel()}, at::TensorOptions().dtype(dtype_of(name)).device(device));
        source.load_elements_into(name, piece.begin, share);
        return share;
      },
      group);
}

}  // namespace tessera
