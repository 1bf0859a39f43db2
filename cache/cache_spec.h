#pragma once
// The command line's --cache value: "method[:key=value,key=value...]", e.g. "fbc:threshold=0.08",
// "teacache:threshold=0.1,warmup=2", "taylorseer:order=2,interval=4",
// "pab:spatial_skip=2,spatial_range=100-800". Keys left out keep the config's default.
#include <string>
#include <string_view>

#include "cache/cache_config.h"

namespace tessera {

// Methods: fbc (first_block_cache): threshold, blocks; teacache: threshold, warmup, coefficients (';'-separated,
// highest power first, or "none"), blocks; taylorseer: order, interval, warmup, stop_after, blocks;
// pab (pyramid_attention_broadcast): spatial_skip, temporal_skip, cross_skip (block skip ranges, 0: none; at least
// one > 0), spatial_range, temporal_range, cross_range (timestep skip ranges "lo-hi"), spatial_blocks,
// temporal_blocks, cross_blocks (';'-separated block identifiers); dbcache (db_cache): fn, bn, threshold, warmup,
// warmup_interval, max_cached, max_continuous, taylorseer_order, blocks.
// Throws naming the method or key and what is accepted.
CacheConfig parse_cache_spec(std::string_view spec);

// The accepted syntax, for --help.
std::string cache_spec_help();

}  // namespace tessera
