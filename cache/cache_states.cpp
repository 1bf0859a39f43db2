#include "cache/cache_states.h"

#include <type_traits>

namespace tessera {

CacheContextState fresh_cache_state(const CacheConfig& config, size_t blocks) {
  return std::visit(
      [blocks](const auto& method) -> CacheContextState {
        using Method = std::decay_t<decltype(method)>;
        if constexpr (std::is_same_v<Method, FirstBlockCacheConfig>) {
          return FirstBlockCacheState{};
        } else if constexpr (std::is_same_v<Method, TeaCacheConfig>) {
          return TeaCacheState{};
        } else if constexpr (std::is_same_v<Method, TaylorSeerConfig>) {
          return TaylorSeerState(blocks);
        } else if constexpr (std::is_same_v<Method, PyramidAttentionBroadcastConfig>) {
          return PyramidAttentionBroadcastState(blocks);
        } else if constexpr (std::is_same_v<Method, FasterCacheConfig>) {
          return FasterCacheState(blocks);
        } else if constexpr (std::is_same_v<Method, MagCacheConfig>) {
          return MagCacheState{};
        } else if constexpr (std::is_same_v<Method, SeaCacheConfig>) {
          return SeaCacheState{};
        } else {
          static_assert(std::is_same_v<Method, DBCacheConfig>, "a cache method without its state");
          return DBCacheState{};
        }
      },
      config);
}

}  // namespace tessera
