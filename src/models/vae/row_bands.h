#pragma once
// Which rows of the activations this rank holds. A split decode gives each rank of a group one horizontal band
// of every activation (the same band, scaled, at every resolution); a layer that mixes neighbouring rows asks
// for halo rows, which come from the bands above and below, and are zeros only at the image's top and bottom
// edges. Without a group a rank holds every row, and the halo is the zero padding of the convolution.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace tessera {

class Communicator;

class RowBands {
 public:
  // Every row on this rank.
  RowBands() = default;
  // Rank r of `group` holds latent_rows[r] rows of the latents (at least one each), and that many times the
  // upsampling factor at each later resolution.
  RowBands(Communicator& group, std::vector<int64_t> latent_rows);

  bool split() const { return group_ != nullptr; }

  // This rank's band x [..., h, W] with `halo` rows of the image above and below it: [..., halo + h + halo, W].
  // Bands smaller than the halo are fine (the rows then come from several ranks).
  at::Tensor with_halo(const at::Tensor& x, int64_t halo) const;
  // Every rank's band of x along dim -2 in order: the full rows.
  at::Tensor gather(const at::Tensor& x) const;
  // The sum over every band of a statistic each band computed of its own rows (a norm's partial sums).
  at::Tensor sum(const at::Tensor& partial) const;
  // The image's rows at the resolution of a band of `local_rows` rows on this rank.
  int64_t image_rows(int64_t local_rows) const;

 private:
  // Every rank's rows at the resolution of a band of `local_rows` rows on this rank.
  std::vector<int64_t> rows_at(int64_t local_rows) const;

  Communicator* group_ = nullptr;
  std::vector<int64_t> latent_rows_;
};

}  // namespace tessera
