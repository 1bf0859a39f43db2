#pragma once
// The causal convolutions' memory between chunks. diffusers decodes one latent frame at a time (and encodes
// 1 then 4 frames at a time); each causal convolution keeps the last frames of its input, which stand
// before the next chunk's first frame in its temporal window. Slots are taken in call order, which is the
// same in every chunk.
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <deque>

namespace tessera::wan_vae {

struct CachedFrames {
  bool visited = false;  // the layer has seen a chunk (the temporal upsample does nothing on its first)
  at::Tensor frames;     // [B, C, t, h, W]; undefined until there is something to keep
};

class FeatureCache {
 public:
  void start_chunk() {
    next_ = 0;
    ++chunks_;
  }
  // Whether this is the clip's first chunk (diffusers' first_chunk: Wan2.2's duplicating shortcut drops frames).
  bool first_chunk() const { return chunks_ == 1; }
  CachedFrames& next_slot();

 private:
  std::deque<CachedFrames> slots_;  // a deque: slots keep their address as more are added
  size_t next_ = 0;
  int64_t chunks_ = 0;
};

// What a causal convolution keeps after a chunk `input`: its last two frames, or, when the chunk has one frame,
// the last frame of `previous` (if any) and that frame.
at::Tensor frames_to_keep(const at::Tensor& input, const at::Tensor& previous);

}  // namespace tessera::wan_vae
