#include "src/models/vae/row_bands.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "parallel/communicator.h"

namespace tessera {
namespace {

// `count` zero rows shaped like x's rows.
at::Tensor zero_rows(const at::Tensor& x, int64_t count) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape[x.dim() - 2] = count;
  return at::zeros(shape, x.options());
}

}  // namespace

RowBands::RowBands(Communicator& group, std::vector<int64_t> latent_rows)
    : group_(&group), latent_rows_(std::move(latent_rows)) {
  TESSERA_INTERNAL_ASSERT(static_cast<int>(latent_rows_.size()) == group.size(), "one band per rank");
  for (int64_t rows : latent_rows_) TESSERA_INTERNAL_ASSERT(rows > 0, "every rank of the group holds a band");
}

std::vector<int64_t> RowBands::rows_at(int64_t local_rows) const {
  const int64_t own = latent_rows_[group_->rank()];
  TESSERA_INTERNAL_ASSERT(local_rows % own == 0, "a band of ", local_rows, " rows is not a multiple of the ", own,
                          " latent rows of this rank");
  std::vector<int64_t> rows(latent_rows_);
  for (int64_t& value : rows) value *= local_rows / own;
  return rows;
}

at::Tensor RowBands::with_halo(const at::Tensor& x, int64_t halo) const {
  const int64_t dim = x.dim() - 2;
  if (halo == 0) return x;
  if (!split()) return at::cat({zero_rows(x, halo), x, zero_rows(x, halo)}, dim);

  // Each rank shares its first and last min(halo, rows) rows; the `halo` rows just above a band are then the
  // last ones of the shared tails of the ranks above it, wherever they start (and likewise below).
  const std::vector<int64_t> rows = rows_at(x.size(dim));
  std::vector<int64_t> edge(rows.size()), shared(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    edge[r] = std::min(halo, rows[r]);
    shared[r] = 2 * edge[r];
  }
  const int me = group_->rank();
  const int64_t local = x.size(dim);
  const at::Tensor own = at::cat({x.narrow(dim, 0, edge[me]), x.narrow(dim, local - edge[me], edge[me])}, dim);
  const at::Tensor edges = group_->all_gather(own, dim, shared);

  std::vector<at::Tensor> above, below;
  int64_t offset = 0;
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    if (r < me) above.push_back(edges.narrow(dim, offset + edge[r], edge[r]));
    if (r > me) below.push_back(edges.narrow(dim, offset, edge[r]));
    offset += shared[r];
  }
  at::Tensor top = above.empty() ? zero_rows(x, 0) : at::cat(above, dim);
  at::Tensor bottom = below.empty() ? zero_rows(x, 0) : at::cat(below, dim);
  top = top.size(dim) >= halo ? top.narrow(dim, top.size(dim) - halo, halo)
                              : at::cat({zero_rows(x, halo - top.size(dim)), top}, dim);
  bottom = bottom.size(dim) >= halo ? bottom.narrow(dim, 0, halo)
                                    : at::cat({bottom, zero_rows(x, halo - bottom.size(dim))}, dim);
  return at::cat({top, x, bottom}, dim);
}

at::Tensor RowBands::gather(const at::Tensor& x) const {
  if (!split()) return x;
  const int64_t dim = x.dim() - 2;
  return group_->all_gather(x, dim, rows_at(x.size(dim)));
}

at::Tensor RowBands::sum(const at::Tensor& partial) const {
  return split() ? group_->all_reduce(partial, ReduceOp::sum) : partial;
}

int64_t RowBands::image_rows(int64_t local_rows) const {
  if (!split()) return local_rows;
  int64_t total = 0;
  for (int64_t rows : rows_at(local_rows)) total += rows;
  return total;
}

}  // namespace tessera
