#pragma once
// The hook every cache method registers on each block of the stack (under the name kCacheHookName). It
// replaces the block's forward, so the method can run, skip or forecast the block. (PAB and FasterCache
// register it on attention modules instead, and their "blocks" are those modules.)
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cache/cache_session.h"
#include "hooks/cache_inputs.h"
#include "hooks/model_hook.h"

namespace tessera {

inline constexpr const char* kCacheHookName = "cache";

class CacheHook : public ModelHook {
 public:
  // `streams`: what the hooked block returns (blocks of a stack); attention hooks keep the default.
  CacheHook(std::shared_ptr<CacheSession> session, int64_t block, BlockStreams streams = {})
      : session_(std::move(session)), block_(block), streams_(streams) {}

  bool overrides_forward() const override { return true; }
  void reset_state(Module& /*module*/) override { session_->reset(); }

  const std::shared_ptr<CacheSession>& session() const { return session_; }
  int64_t block() const { return block_; }

 protected:
  bool is_first() const { return block_ == 0; }
  bool is_last() const { return block_ == session_->num_blocks() - 1; }

  std::shared_ptr<CacheSession> session_;
  int64_t block_;
  BlockStreams streams_;
};

// One factory per method (first_block_cache.cpp, teacache.cpp, taylorseer.cpp); `streams` says which of the
// block's outputs are hidden_states and encoder_hidden_states: both streams are cached and rebuilt.
std::shared_ptr<CacheHook> make_first_block_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                                       BlockStreams streams);
// TeaCache's coefficients are resolved to a list (enable_cache); `inputs` computes its modulated_input
// indicator (null: the block's input).
std::shared_ptr<CacheHook> make_teacache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                              BlockStreams streams, const DeclaresCacheInputs* inputs);
std::shared_ptr<CacheHook> make_taylorseer_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                                BlockStreams streams);

// MagCache and SeaCache (mag_cache.cpp, sea_cache.cpp): the head block decides for the stack. MagCache's ratios
// are resolved to numbers (enable_cache); SeaCache also hooks the model, whose raw latents `inputs` gives.
std::shared_ptr<CacheHook> make_mag_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                               BlockStreams streams);
std::shared_ptr<CacheHook> make_sea_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                               BlockStreams streams);
std::shared_ptr<CacheHook> make_sea_cache_model_hook(std::shared_ptr<CacheSession> session,
                                                     const DeclaresCacheInputs& inputs);

// DBCache (db_cache.cpp): every block of the stack; refuses an fn + bn that leave no middle block.
std::shared_ptr<CacheHook> make_db_cache_hook(std::shared_ptr<CacheSession> session, int64_t block,
                                              BlockStreams streams);

// Pyramid Attention Broadcast hooks attention modules instead of blocks (pyramid_attention_broadcast.cpp).
enum class AttentionKind { spatial, temporal, cross };
struct AttentionTarget {
  std::string path;
  Module* module = nullptr;
  AttentionKind kind = AttentionKind::spatial;
};
// The attention modules the config selects, in model (= call) order; each hook's `block` is its index here.
std::vector<AttentionTarget> pyramid_attention_broadcast_targets(Module& model,
                                                                 const PyramidAttentionBroadcastConfig& config);
std::shared_ptr<CacheHook> make_pyramid_attention_broadcast_hook(std::shared_ptr<CacheSession> session,
                                                                 int64_t index, AttentionKind kind);
// On the model: decides once per forward whether the attention hooks may decide without a collective.
std::shared_ptr<CacheHook> make_pyramid_attention_broadcast_model_hook(std::shared_ptr<CacheSession> session);

// FasterCache hooks the self-attention modules its identifiers select, and the model itself
// (faster_cache.cpp). The session's blocks are the targets, then one more for the model: its records say
// whether the unconditional branch was computed or rebuilt ("skipped").
std::vector<AttentionTarget> faster_cache_targets(Module& model, const FasterCacheConfig& config);
std::shared_ptr<CacheHook> make_faster_cache_attention_hook(std::shared_ptr<CacheSession> session, int64_t index,
                                                            const AttentionTarget& target);
std::shared_ptr<CacheHook> make_faster_cache_denoiser_hook(std::shared_ptr<CacheSession> session, int64_t index);

}  // namespace tessera
