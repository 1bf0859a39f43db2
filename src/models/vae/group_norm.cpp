#include "src/models/vae/group_norm.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "src/models/parameters.h"

namespace tessera {
namespace {

// Per-(sample, group) sums of `values` [N, G, rows, W] in fp64: each row summed in the values' own dtype (W
// terms, pairwise), then the row sums in fp64, so the sum over a whole band loses no more than one row's.
at::Tensor group_sums(const at::Tensor& values) {
  return values.sum(-1).to(at::kDouble).sum(-1);
}

}  // namespace

GroupNorm::GroupNorm(int64_t num_groups, int64_t channels, double eps) : num_groups_(num_groups), eps_(eps) {
  TESSERA_INTERNAL_ASSERT(num_groups > 0 && channels % num_groups == 0, channels, " channels in ", num_groups,
                          " groups");
  weight_ = register_parameter("weight", constant_parameter({channels}, 1.0));
  bias_ = register_parameter("bias", constant_parameter({channels}, 0.0));
}

at::Tensor GroupNorm::forward(const at::Tensor& x, const RowBands& rows) const {
  if (!rows.split()) return at::group_norm(x, num_groups_, weight_, bias_, eps_);
  return forward_band(x, rows);
}

at::Tensor GroupNorm::forward_band(const at::Tensor& x, const RowBands& rows) const {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const bool half = x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16;
  const at::Tensor wide = half ? x.to(at::kFloat) : x;  // torch's own kernel works in fp32 for these too
  // [N, G, (C / G) * h, W]: a group's channels stacked along the rows.
  const at::Tensor grouped = wide.reshape({n, num_groups_, (c / num_groups_) * h, w});
  const double count = static_cast<double>((c / num_groups_) * rows.image_rows(h) * w);

  // Two passes over the whole image: the mean first, then the centred squares, which keeps the variance exact
  // where a mean far from zero would cancel most digits of E[x^2] - E[x]^2.
  const at::Tensor mean = rows.sum(group_sums(grouped)) / count;  // [N, G] fp64
  at::Tensor centred = grouped - mean.to(wide.scalar_type()).view({n, num_groups_, 1, 1});
  // Centred on the mean rounded to the activations' dtype, off the exact one by `offset`: the exact centred
  // sum of squares is then Σ(x - m')² - count · offset².
  const at::Tensor centred_sum = group_sums(centred);
  const at::Tensor moments = rows.sum(at::stack({centred_sum, group_sums(centred.square_())})) / count;
  centred = at::Tensor();
  const at::Tensor variance = moments[1] - moments[0].square();
  const at::Tensor rstd = (variance + eps_).rsqrt();  // [N, G]

  // y = x * scale + shift per (sample, channel), as torch's kernel applies it.
  const auto per_channel = [&](const at::Tensor& per_group) {
    return per_group.view({n, num_groups_, 1}).expand({n, num_groups_, c / num_groups_}).reshape({n, c});
  };
  const at::Tensor scale = per_channel(rstd) * weight_.to(at::kDouble);
  const at::Tensor shift = bias_.to(at::kDouble) - per_channel(mean) * scale;
  const auto as_map = [&](const at::Tensor& values) { return values.to(wide.scalar_type()).view({n, c, 1, 1}); };
  const at::Tensor y = at::addcmul(as_map(shift), wide, as_map(scale));
  return half ? y.to(x.scalar_type()) : y;
}

}  // namespace tessera
