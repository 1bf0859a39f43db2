#pragma once
// Strong scaling of the Wan transformer over parallel strategies (none, Ulysses, Ring, USP, CFG-parallel), world
// sizes and sequence lengths. Each point runs on the first `ranks` ranks of the world (a communicator split from
// it; the other ranks wait at a barrier) and reports, over `repeat` steps after `warmup`: the median time of a
// forward and of a denoising step (the forwards one step of the pipeline runs: conditional and unconditional,
// one after the other or as one batch, or one branch per rank with CFG-parallel, plus the guidance), speedup and
// efficiency against the one-rank point of the same sequence, the bytes each rank sent beside the formula's
// (wan_communication_formula.h), each rank's peak resident memory (peak_memory.h), and the guided prediction's
// error against the one-rank prediction. Each point runs with the model's weights whole, or sharded across the
// point's ranks as --shard-weights shards them (docs/shard_weights.md), or both.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cache/text_kv_cache.h"
#include "parallel/parallel_config.h"
#include "src/models/wan/wan_config.h"

namespace tessera {

class Communicator;
class WanTransformer3DModel;

enum class ScalingStrategy { none, ulysses, ring, usp, cfg };
std::string to_string(ScalingStrategy strategy);
// "none", "ulysses", "ring", "usp", "cfg"; anything else is an error naming the choices.
ScalingStrategy parse_scaling_strategy(const std::string& name);
const std::vector<ScalingStrategy>& all_scaling_strategies();

// How a point holds the model's weights: whole on every rank, or sharded across the point's ranks (each keeps 1/N
// and gathers a block's just before it runs).
enum class WeightSharding { none, sharded };
std::string to_string(WeightSharding sharding);
// "none" or "sharded"; anything else is an error naming the choices.
WeightSharding parse_weight_sharding(const std::string& name);

// A latent video in latent units: frames x height x width (what the VAE makes of the pixels; patches are tokens).
struct LatentSize {
  int64_t frames = 0;
  int64_t height = 0;
  int64_t width = 0;

  std::string to_string() const;  // "6x32x32"
};
// "6x32x32" (frames x height x width) or "6x32" (square); an unreadable spec is an error showing both forms.
LatentSize parse_latent_size(const std::string& text);

// The degrees `strategy` runs with on `ranks` ranks for a model of `heads` heads, or nullopt where it cannot
// (the reason in `why`): none runs on 1 rank, Ulysses on 2 up to `heads`, Ring on 2 or more, USP on ulysses x
// ring with both at least 2 (Ulysses as wide as the heads and ranks allow: inside a node), CFG-parallel on 2 (one
// branch each). Ranks beyond a sequence's tokens hold none; those points run too, as generation does.
std::optional<ParallelConfig> scaling_layout(ScalingStrategy strategy, int ranks, int64_t heads,
                                             std::string* why = nullptr);

struct ScalingOptions {
  std::vector<ScalingStrategy> strategies;  // the one-rank reference ("none" at 1 rank) always runs first
  std::vector<int> sizes;                   // world sizes, each at most the world's
  std::vector<LatentSize> sequences;
  // Each point runs once per entry, in this order (the one-rank reference always with whole weights, first).
  std::vector<WeightSharding> weight_shardings{WeightSharding::none};
  int warmup = 2;  // the second step packs the weights for the point's row counts (kernels/packed_linear.h)
  int repeat = 3;
  // The points run this many times in turn (round 1: every point, then round 2, ...), and each point's measured
  // steps are pooled over its rounds: a drift of the machine's speed during a run then reaches every point alike,
  // instead of whichever ran while it lasted.
  int rounds = 1;
  int64_t text_tokens = 512;  // the Wan pipeline pads prompts to 512 tokens
  double guidance_scale = 5.0;
  bool batch_guidance = false;  // one forward on [uncond, cond] instead of two (the pipeline's --cfg-mode batch)
  // The text keys and values computed once per point (in its warm-up) and reused by the measured steps, as a
  // generation computes them once (--text-kv-cache, on by default): automatic where the model supports it.
  TextKVMode text_kv_cache = TextKVMode::automatic;
  uint64_t seed = 0;            // inputs; the caller seeds the weights
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::ScalarType::Float;  // the model's; the inputs follow it
};

// One rank's figures of a point.
struct ScalingRankFigures {
  int64_t bytes_per_step = 0;          // sent, as the communicator recorded it
  int64_t formula_bytes_per_step = 0;  // wan_communication_formula.h
  bool bytes_match = false;            // every operation's calls and bytes equal the formula's
  int64_t peak_resident_bytes = 0;     // VmHWM at the end of the point
  int64_t start_resident_bytes = 0;    // VmRSS when the point started (weights, inputs, the allocator's pools)
  double relative_error = 0;           // max |prediction - one-rank prediction| / max |one-rank prediction|
  double wait_seconds_per_step = 0;    // median over the measured steps of the time spent waiting on peers
                                       // (communication_wait_seconds): the rest of the step is this rank's work
  // Sharded points: the weight gathers' share of the bytes above (sent), the formula's, and what the formula says
  // the rank receives in them; 0 with whole weights.
  int64_t gather_bytes_per_step = 0;
  int64_t formula_gather_bytes_per_step = 0;
  int64_t formula_gather_received_bytes_per_step = 0;
  // Sharded points: max |prediction - the same strategy's whole-weights prediction| / max |that prediction| on this
  // rank (must be 0: the gathered weights are the same bits); -1 where no whole-weights point ran before it.
  double relative_error_vs_whole = -1;
  // Where a measured step's time goes on this rank, in seconds per step (means over the measured steps): the
  // top-level ATen ops that multiply matrices (linear, addmm, mm, bmm, matmul), attention's, every other ATen op,
  // the waits on peers (mean, unlike the median above) and the rest: code outside any ATen op (tessera's fused
  // kernels, packing, posting communication).
  double matmul_seconds_per_step = 0;
  double attention_seconds_per_step = 0;
  double other_op_seconds_per_step = 0;
  double mean_wait_seconds_per_step = 0;
  double outside_op_seconds_per_step = 0;
};

struct ScalingPoint {
  ScalingStrategy strategy = ScalingStrategy::none;
  int ranks = 1;
  ParallelConfig layout;
  WeightSharding weights = WeightSharding::none;
  LatentSize latent;
  int64_t tokens = 0;
  int forwards_per_step = 0;  // on each rank
  std::vector<double> step_seconds;     // per measured step, the slowest rank
  std::vector<double> forward_seconds;  // per measured forward, the slowest rank
  double step_median = 0;
  double forward_median = 0;
  double speedup = 1;          // one-rank step time / this step time
  double efficiency = 1;       // speedup / ranks
  double forward_speedup = 1;  // the same for one forward (CFG-parallel does not shorten a forward)
  std::vector<ScalingRankFigures> per_rank;
  bool memory_reset = false;  // false: the kernel refused to reset the high-water mark (see peak_memory.h)
  // Calls (cross-attentions, the text embedder) that computed their text K/V cache entry in the measured steps
  // (rank 0's count); the warm-up computes them, so 0 while the cache works as a generation's loop uses it; -1
  // with the cache off.
  int64_t text_kv_cache_misses = -1;
};

struct ScalingSkip {
  ScalingStrategy strategy = ScalingStrategy::none;
  int ranks = 0;
  LatentSize latent;
  std::string reason;
};

struct ScalingResults {
  std::vector<ScalingPoint> points;
  std::vector<ScalingSkip> skipped;
};

// Collective over `world`: every rank calls it with the same options and an identical model (same weights).
// Rank 0 receives the full results; the other ranks receive what they took part in.
ScalingResults run_scaling_benchmark(Communicator& world, WanTransformer3DModel& model, const ScalingOptions& options);

// Throws naming the fix when a sequence does not fit the model (patch multiples, rope_max_seq_len) or a strategy
// of `options` runs at none of its sizes.
void check_scaling_plan(const ScalingOptions& options, const WanConfig& config);
// The strategies of all_scaling_strategies() that run at one of the sizes of `options` at least.
std::vector<ScalingStrategy> runnable_scaling_strategies(const ScalingOptions& options, const WanConfig& config);

// What the caller knows of the run, for the JSON document.
struct ScalingRunDescription {
  std::string model;   // "medium", "tiny", "embedded" or a directory
  std::string source;  // "random weights, seed 0" or "loaded from DIR"
  std::vector<std::pair<std::string, std::string>> config;
  std::string backend;
  int world_size = 1;
  int threads_per_rank = 1;
  std::string dtype;
  std::string command;  // the command line that made the results
};

std::string scaling_json(const ScalingRunDescription& run, const ScalingOptions& options,
                         const ScalingResults& results);
std::string scaling_table(const ScalingResults& results);

}  // namespace tessera
