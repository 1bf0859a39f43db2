#include "src/models/wan_vae/patchify.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera::wan_vae {

at::Tensor patchify(const at::Tensor& video, int64_t patch_size) {
  if (patch_size == 1) return video;
  const int64_t b = video.size(0), c = video.size(1), f = video.size(2), h = video.size(3) / patch_size,
                w = video.size(4) / patch_size;
  TESSERA_INTERNAL_ASSERT(h * patch_size == video.size(3) && w * patch_size == video.size(4), "a ",
                          video.size(3), " x ", video.size(4), " video does not divide into patches of ", patch_size);
  // [B, C, F, h, p (row), w, p (column)] -> [B, C, p (column), p (row), F, h, w]
  return video.reshape({b, c, f, h, patch_size, w, patch_size})
      .permute({0, 1, 6, 4, 2, 3, 5})
      .reshape({b, c * patch_size * patch_size, f, h, w});
}

at::Tensor unpatchify(const at::Tensor& x, int64_t patch_size) {
  if (patch_size == 1) return x;
  const int64_t b = x.size(0), c = x.size(1) / (patch_size * patch_size), f = x.size(2), h = x.size(3), w = x.size(4);
  // [B, C, p (column), p (row), F, h, w] -> [B, C, F, h, p (row), w, p (column)]
  return x.reshape({b, c, patch_size, patch_size, f, h, w})
      .permute({0, 1, 4, 5, 3, 6, 2})
      .reshape({b, c, f, h * patch_size, w * patch_size});
}

}  // namespace tessera::wan_vae
