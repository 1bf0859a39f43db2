#include "src/models/vae/row_split.h"

#include <algorithm>
#include <vector>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/shard_sizes.h"

namespace tessera {

RowSplit::RowSplit(Communicator& group, int64_t latent_height) {
  TESSERA_INTERNAL_ASSERT(latent_height > 0, "a split decode of latents with no rows");
  const int taking_part = static_cast<int>(std::min<int64_t>(latent_height, group.size()));
  Communicator* bands_group = &group;
  if (taking_part < group.size()) {
    const bool member = group.rank() < taking_part;
    subgroup_ = group.split(member ? 0 : -1, group.rank(), group.name() + "/vae-rows");
    if (!member) return;
    bands_group = subgroup_.get();
  }
  const std::vector<int64_t> latent_rows = shard_sizes(latent_height, taking_part);
  const int me = bands_group->rank();
  takes_part_ = true;
  first_row_ = exclusive_prefix_sum(latent_rows)[me];
  rows_ = latent_rows[me];
  bands_ = RowBands(*bands_group, latent_rows);
}

}  // namespace tessera
