#pragma once
// How a split decode shares an image's latent rows among a group: as evenly as possible (shard_sizes), at most
// one rank per latent row. When the latents have fewer rows than the group has ranks, the last ranks sit the
// decode out, so every band that takes part is at least one latent row: at least the upsampling factor's rows
// at each later resolution, which covers the one-row halo of the convolutions (row_bands.h fetches a larger
// halo across several bands anyway).
#include <cstdint>
#include <memory>

#include "src/models/vae/row_bands.h"

namespace tessera {

class RowSplit {
 public:
  // Every rank of `group` constructs it together (it may split the group).
  RowSplit(Communicator& group, int64_t latent_height);
  RowSplit(const RowSplit&) = delete;
  RowSplit& operator=(const RowSplit&) = delete;

  bool takes_part() const { return takes_part_; }
  // This rank's latent rows [first_row, first_row + rows); none when it sits out.
  int64_t first_row() const { return first_row_; }
  int64_t rows() const { return rows_; }
  // The bands of the ranks that take part (only meaningful on those ranks).
  const RowBands& bands() const { return bands_; }

 private:
  std::shared_ptr<Communicator> subgroup_;  // the ranks that take part, when some sit out
  bool takes_part_ = false;
  int64_t first_row_ = 0, rows_ = 0;
  RowBands bands_;
};

}  // namespace tessera
