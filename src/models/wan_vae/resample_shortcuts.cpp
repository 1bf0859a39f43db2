#include "src/models/wan_vae/resample_shortcuts.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera::wan_vae {

at::Tensor average_down(const at::Tensor& x, int64_t out_channels, int64_t factor_t, int64_t factor_s) {
  const int64_t missing = (factor_t - x.size(2) % factor_t) % factor_t;
  const at::Tensor padded = missing == 0 ? x : at::constant_pad_nd(x, {0, 0, 0, 0, missing, 0});
  const int64_t b = padded.size(0), c = padded.size(1), t = padded.size(2) / factor_t,
                h = padded.size(3) / factor_s, w = padded.size(4) / factor_s;
  const int64_t samples = c * factor_t * factor_s * factor_s;
  TESSERA_INTERNAL_ASSERT(samples % out_channels == 0, samples, " samples do not average into ", out_channels);
  // [B, C, t, ft, h, fs, w, fs] -> [B, C, ft, fs (rows), fs (columns), t, h, w]
  const at::Tensor cells = padded.reshape({b, c, t, factor_t, h, factor_s, w, factor_s})
                               .permute({0, 1, 3, 5, 7, 2, 4, 6})
                               .reshape({b, out_channels, samples / out_channels, t, h, w});
  return cells.mean(2);
}

at::Tensor duplicate_up(const at::Tensor& x, int64_t out_channels, int64_t factor_t, int64_t factor_s,
                        bool first_chunk) {
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  const int64_t samples = out_channels * factor_t * factor_s * factor_s;
  TESSERA_INTERNAL_ASSERT(samples % c == 0, c, " channels do not repeat into ", samples, " samples");
  // [B, out, ft, fs (rows), fs (columns), t, h, w] -> [B, out, t, ft, h, fs, w, fs]
  const at::Tensor spread = x.repeat_interleave(samples / c, 1)
                                .reshape({b, out_channels, factor_t, factor_s, factor_s, t, h, w})
                                .permute({0, 1, 5, 2, 6, 3, 7, 4})
                                .reshape({b, out_channels, t * factor_t, h * factor_s, w * factor_s});
  return first_chunk ? spread.narrow(2, factor_t - 1, spread.size(2) - (factor_t - 1)) : spread;
}

}  // namespace tessera::wan_vae
