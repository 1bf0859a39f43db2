#include "measure/scaling_bench.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "cache/text_kv_cache.h"
#include "common/check.h"
#include "common/log.h"
#include "kernels/cpu_block_cache.h"
#include "kernels/device_synchronize.h"
#include "measure/op_profile.h"
#include "measure/peak_memory.h"
#include "measure/wan_communication_formula.h"
#include "parallel/cfg_parallel.h"
#include "parallel/communicator.h"
#include "parallel/context_parallel.h"
#include "parallel/deadline.h"
#include "parallel/device_mesh.h"
#include "parallel/shard_in_place.h"
#include "parallel/sharded_weights.h"
#include "parallel/wait_backoff.h"
#include "parallel/weight_units.h"
#include "src/models/wan/wan_transformer.h"

namespace tessera {
namespace {

using Clock = std::chrono::steady_clock;

struct StepInputs {
  at::Tensor latents;        // [1, C, F, H, W]
  at::Tensor timestep;       // [1], fp32 (the model embeds it in fp32)
  at::Tensor text;           // [1, L, text_dim]
  at::Tensor negative_text;  // [1, L, text_dim]
  // --cfg-mode batch: [negative_text, text], made once as the denoising loop makes it once per generation, so that
  // the text K/V cache (keyed by the prompt tensor) reuses it at every step instead of missing at every step.
  at::Tensor batch_text;
};

struct StepOutcome {
  at::Tensor prediction;  // guided
  std::vector<double> forward_seconds;
  double seconds = 0;
};

int64_t token_count(const LatentSize& latent, const WanConfig& config) {
  const auto& patch = config.patch_size;
  return (latent.frames / patch[0]) * (latent.height / patch[1]) * (latent.width / patch[2]);
}

// The same draws on every rank: a generator of its own per sequence, seeded from the run's seed.
StepInputs make_inputs(const WanConfig& config, const LatentSize& latent, const ScalingOptions& options,
                       size_t sequence_index) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed + 1 + sequence_index);
  const auto cpu = at::TensorOptions().dtype(at::kFloat);
  const auto place = at::TensorOptions().dtype(options.dtype).device(options.device);
  StepInputs inputs;
  inputs.latents = at::randn({1, config.in_channels, latent.frames, latent.height, latent.width}, generator, cpu)
                       .to(place);
  inputs.text = at::randn({1, options.text_tokens, config.text_dim}, generator, cpu).to(place);
  inputs.negative_text = at::randn({1, options.text_tokens, config.text_dim}, generator, cpu).to(place);
  inputs.timestep = at::full({1}, 700.0, cpu.device(options.device));
  if (options.batch_guidance) inputs.batch_text = at::cat({inputs.negative_text, inputs.text});
  return inputs;
}

at::Tensor forward(WanTransformer3DModel& model, const at::Tensor& latents, const at::Tensor& timestep,
                   const at::Tensor& text) {
  return model({{"hidden_states", latents}, {"timestep", timestep}, {"encoder_hidden_states", text}}).at(0);
}

// One denoising step's predictions as the pipeline computes them (denoise_loop.cpp), without the scheduler.
StepOutcome run_step(WanTransformer3DModel& model, const StepInputs& inputs, const ScalingOptions& options,
                     Communicator* cfg_group) {
  StepOutcome outcome;
  const auto step_start = Clock::now();
  auto timed_forward = [&](const at::Tensor& latents, const at::Tensor& timestep, const at::Tensor& text) {
    const auto start = Clock::now();
    at::Tensor output = forward(model, latents, timestep, text);
    synchronize_device(options.device);
    outcome.forward_seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    return output;
  };
  if (cfg_group != nullptr) {
    const bool conditional = guidance_branch(*cfg_group) == GuidanceBranch::conditional;
    const at::Tensor branch =
        timed_forward(inputs.latents, inputs.timestep, conditional ? inputs.text : inputs.negative_text);
    outcome.prediction = combine_guidance(*cfg_group, branch, options.guidance_scale);
  } else if (options.batch_guidance) {
    const auto both = timed_forward(at::cat({inputs.latents, inputs.latents}),
                                    at::cat({inputs.timestep, inputs.timestep}),
                                    inputs.batch_text)
                          .chunk(2, 0);
    outcome.prediction = classifier_free_guidance(both[1], both[0], options.guidance_scale);
  } else {
    const at::Tensor conditional = timed_forward(inputs.latents, inputs.timestep, inputs.text);
    const at::Tensor unconditional = timed_forward(inputs.latents, inputs.timestep, inputs.negative_text);
    outcome.prediction = classifier_free_guidance(conditional, unconditional, options.guidance_scale);
  }
  synchronize_device(options.device);
  outcome.seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
  return outcome;
}

bool same_communication(const CommunicationStats& measured, const CommunicationStats& formula) {
  if (measured.size() != formula.size()) return false;
  for (const auto& [operation, entry] : measured) {
    const auto found = formula.find(operation);
    if (found == formula.end() || found->second.calls != entry.calls || found->second.bytes_sent != entry.bytes_sent) {
      return false;
    }
  }
  return true;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// A rank's step time by phase (ScalingRankFigures), from the measured steps' op times, step times and waits.
struct StepPhases {
  double matmul = 0, attention = 0, other_ops = 0, waits = 0, outside_ops = 0;
};

StepPhases step_phases(const std::map<std::string, OpTime>& op_times, const std::vector<double>& step_seconds,
                       const std::vector<double>& wait_seconds) {
  static const std::set<std::string> matmuls = {"aten::linear", "aten::addmm", "aten::mm",       "aten::bmm",
                                                "aten::matmul", "aten::baddbmm", "mkl::_mkl_linear"};
  StepPhases phases;
  if (step_seconds.empty()) return phases;
  const double steps = static_cast<double>(step_seconds.size());
  for (const auto& [name, time] : op_times) {
    double& phase = matmuls.count(name) ? phases.matmul
                    : name.find("attention") != std::string::npos ? phases.attention
                                                                  : phases.other_ops;
    phase += time.seconds / steps;
  }
  for (const double wait : wait_seconds) phases.waits += wait / steps;
  double total = 0;
  for (const double step : step_seconds) total += step / steps;
  phases.outside_ops = total - phases.matmul - phases.attention - phases.other_ops - phases.waits;
  return phases;
}

// Element-wise maximum over the group's ranks: a step is as slow as its slowest rank.
std::vector<double> slowest(Communicator& group, const std::vector<double>& local) {
  if (local.empty()) return local;
  const at::Tensor reduced =
      group.all_reduce(at::tensor(local, at::TensorOptions().dtype(at::kDouble)), ReduceOp::max).contiguous();
  return {reduced.data_ptr<double>(), reduced.data_ptr<double>() + reduced.numel()};
}

struct PointPlan {
  ScalingStrategy strategy;
  int ranks;
  ParallelConfig layout;
  WeightSharding weights = WeightSharding::none;
};

// The slabs a sharded model gathers, unit by unit (ShardedWeights' layout: per unit, one per dtype), from the
// whole model's parameters.
std::vector<WeightSlabSize> weight_slabs(WanTransformer3DModel& model) {
  std::vector<WeightSlabSize> slabs;
  for (const WeightUnit& unit : weight_units(model)) {
    std::map<c10::ScalarType, int64_t> elements;  // the order of a unit's slabs does not change the bytes
    for (const UnitParameter& parameter : unit.parameters) elements[parameter.dtype] += parameter.handle.numel();
    for (const auto& [dtype, count] : elements) {
      slabs.push_back({.elements = count, .element_size = static_cast<int64_t>(c10::elementSize(dtype))});
    }
  }
  return slabs;
}

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor expected_double = expected.to(at::kDouble);
  return ((actual.to(at::kDouble) - expected_double).abs().max() / expected_double.abs().max()).item<double>();
}

// Runs one point on `group` (its ranks only). `reference` is the one-rank prediction on the group's rank 0, or
// undefined for the one-rank point itself; `whole_prediction` this rank's prediction of the same strategy with
// whole weights (for a sharded point), or undefined; `prediction` receives this rank's guided prediction.
ScalingPoint run_point(const std::shared_ptr<Communicator>& group, WanTransformer3DModel& model,
                       const PointPlan& plan, const LatentSize& latent, const StepInputs& inputs,
                       const ScalingOptions& options, const at::Tensor& reference, const at::Tensor& whole_prediction,
                       at::Tensor& prediction) {
  const WanConfig& config = model.config();
  // Sharded as a sharded load leaves a model (before the parallelism, as generation enables it), so that the
  // point's memory holds only this rank's share; made whole again after it.
  std::vector<WeightSlabSize> slabs;
  std::shared_ptr<ShardedWeights> sharded;
  if (plan.weights == WeightSharding::sharded) {
    slabs = weight_slabs(model);
    sharded = shard_in_place(model, group, options.device);
  }
  auto mesh = std::make_shared<DeviceMesh>(group, plan.layout);
  enable_parallelism(model, model.context_parallel_plan(), mesh);
  Communicator* cfg_group = plan.layout.cfg > 1 ? &mesh->cfg() : nullptr;
  // Entries are per point: its warm-up step computes them, the measured steps reuse them.
  if (use_text_kv_cache(model, options.text_kv_cache)) reset_text_kv_cache(model);

  ScalingPoint point;
  point.strategy = plan.strategy;
  point.ranks = plan.ranks;
  point.layout = plan.layout;
  point.weights = plan.weights;
  point.latent = latent;
  point.tokens = token_count(latent, config);
  point.forwards_per_step = cfg_group != nullptr || options.batch_guidance ? 1 : 2;

  const PeakMemoryWindow memory;
  point.memory_reset = memory.reset();
  const CpuBlockCacheScope same_blocks_every_step;  // as a generation's denoising loop reuses them
  for (int run = 0; run < options.warmup; ++run) run_step(model, inputs, options, cfg_group);
  std::vector<double> step_seconds, forward_seconds, wait_seconds;
  const bool text_kv_cache = text_kv_cache_enabled(model);
  const int64_t misses_before = text_kv_cache ? text_kv_cache_stats(model).misses : 0;
  std::optional<OpProfile> profile(std::in_place);  // the measured steps only
  for (int run = 0; run < options.repeat; ++run) {
    // Counted per step: the last step's bytes are the ones reported.
    reset_context_parallel_stats(*mesh);
    mesh->cfg().reset_stats();
    group->barrier();
    // After the barrier: on one rank the gathers' communicator is the point's group itself (nothing to split).
    if (sharded) sharded->gather_group().reset_stats();
    const double waited_before = communication_wait_seconds();
    StepOutcome outcome = run_step(model, inputs, options, cfg_group);
    wait_seconds.push_back(communication_wait_seconds() - waited_before);
    step_seconds.push_back(outcome.seconds);
    forward_seconds.insert(forward_seconds.end(), outcome.forward_seconds.begin(), outcome.forward_seconds.end());
    prediction = outcome.prediction;
  }
  const StepPhases phases = step_phases(profile->times(), step_seconds, wait_seconds);
  profile.reset();
  const int64_t peak = memory.peak_bytes();
  const CommunicationStats measured_forwards = context_parallel_stats(*mesh);
  const CommunicationStats measured_combine = mesh->cfg().stats();
  const CommunicationStats measured_gathers = sharded ? sharded->gather_group().stats() : CommunicationStats{};
  if (text_kv_cache) {
    point.text_kv_cache_misses = text_kv_cache_stats(model).misses - misses_before;
    disable_text_kv_cache(model);
  }
  if (parallelism_enabled(model)) disable_parallelism(model);
  if (sharded) unshard_in_place(model);

  // The formula for this rank's place in its context-parallel group, for the step's forwards.
  const int64_t element_size = prediction.element_size();
  const WanCommunicationShape shape{.layers = config.num_layers,
                                    .heads = config.num_attention_heads,
                                    .head_dim = config.attention_head_dim,
                                    .output_width = config.out_channels * config.patch_size[0] *
                                                    config.patch_size[1] * config.patch_size[2],
                                    .tokens = point.tokens,
                                    .batch = options.batch_guidance && cfg_group == nullptr ? 2 : 1,
                                    .element_size = element_size};
  const auto per_position = wan_forward_communication(shape, plan.layout);
  const CommunicationStats formula_forwards =
      repeated(per_position.at(mesh->context_parallel().rank()), point.forwards_per_step);
  const CommunicationStats formula_combine =
      cfg_group != nullptr ? guidance_combine_communication(prediction.numel() * element_size) : CommunicationStats{};
  // Every unit gathered once per forward, across the whole group (CFG-parallel ranks included).
  const CommunicationStats formula_gathers =
      sharded ? repeated(weight_gather_communication(slabs, group->size(), group->rank()), point.forwards_per_step)
              : CommunicationStats{};
  const int64_t formula_received =
      sharded ? weight_gather_received_bytes(slabs, group->size(), group->rank()) * point.forwards_per_step : 0;
  const bool bytes_match = same_communication(measured_forwards, formula_forwards) &&
                           same_communication(measured_combine, formula_combine) &&
                           same_communication(measured_gathers, formula_gathers);

  double error = 0;
  if (reference.defined() || group->rank() != 0) {
    const at::Tensor expected = group->broadcast(group->rank() == 0 ? reference : at::empty_like(prediction), 0);
    error = relative_error(prediction, expected);
  }
  const double error_vs_whole = whole_prediction.defined() ? relative_error(prediction, whole_prediction) : -1;

  // Every rank's figures to every rank of the group (rank 0 is the one that reports them). Doubles hold the byte
  // counts exactly (below 2^53).
  const at::Tensor local = at::tensor(std::vector<double>{
      static_cast<double>(total_bytes_sent(measured_forwards) + total_bytes_sent(measured_combine) +
                          total_bytes_sent(measured_gathers)),
      static_cast<double>(total_bytes_sent(formula_forwards) + total_bytes_sent(formula_combine) +
                          total_bytes_sent(formula_gathers)),
      bytes_match ? 1.0 : 0.0, static_cast<double>(peak), static_cast<double>(memory.start_bytes()), error,
      median(wait_seconds), static_cast<double>(total_bytes_sent(measured_gathers)),
      static_cast<double>(total_bytes_sent(formula_gathers)), static_cast<double>(formula_received), error_vs_whole,
      phases.matmul, phases.attention, phases.other_ops, phases.waits, phases.outside_ops},
      at::TensorOptions().dtype(at::kDouble));
  const at::Tensor all = group->all_gather(local.unsqueeze(0), 0).contiguous();
  for (int64_t rank = 0; rank < all.size(0); ++rank) {
    const at::Tensor row = all[rank];
    point.per_rank.push_back({.bytes_per_step = static_cast<int64_t>(row[0].item<double>()),
                              .formula_bytes_per_step = static_cast<int64_t>(row[1].item<double>()),
                              .bytes_match = row[2].item<double>() == 1.0,
                              .peak_resident_bytes = static_cast<int64_t>(row[3].item<double>()),
                              .start_resident_bytes = static_cast<int64_t>(row[4].item<double>()),
                              .relative_error = row[5].item<double>(),
                              .wait_seconds_per_step = row[6].item<double>(),
                              .gather_bytes_per_step = static_cast<int64_t>(row[7].item<double>()),
                              .formula_gather_bytes_per_step = static_cast<int64_t>(row[8].item<double>()),
                              .formula_gather_received_bytes_per_step = static_cast<int64_t>(row[9].item<double>()),
                              .relative_error_vs_whole = row[10].item<double>(),
                              .matmul_seconds_per_step = row[11].item<double>(),
                              .attention_seconds_per_step = row[12].item<double>(),
                              .other_op_seconds_per_step = row[13].item<double>(),
                              .mean_wait_seconds_per_step = row[14].item<double>(),
                              .outside_op_seconds_per_step = row[15].item<double>()});
  }
  point.step_seconds = slowest(*group, step_seconds);
  point.forward_seconds = slowest(*group, forward_seconds);
  point.step_median = median(point.step_seconds);
  point.forward_median = median(point.forward_seconds);
  return point;
}

// The one-rank point's medians, which every point of its sequence is compared with.
struct OneRankTimes {
  double step = 0;
  double forward = 0;
};

void compare_with_one_rank(ScalingPoint& point, const OneRankTimes& one_rank) {
  point.speedup = one_rank.step / point.step_median;
  point.forward_speedup = one_rank.forward / point.forward_median;
  point.efficiency = point.speedup / point.ranks;
}

// `next`, a later round of the same point, pooled into `pooled`, which holds `rounds` rounds so far: the measured
// steps and forwards joined, each rank's per-step means and median wait averaged over the rounds, the worst error
// and peak memory kept; the bytes are a step's, the same in every round.
void pool_round(ScalingPoint& pooled, const ScalingPoint& next, int rounds) {
  TESSERA_INTERNAL_ASSERT(pooled.per_rank.size() == next.per_rank.size() && pooled.strategy == next.strategy &&
                              pooled.ranks == next.ranks,
                          "rounds of one scaling point differ in their ranks");
  pooled.step_seconds.insert(pooled.step_seconds.end(), next.step_seconds.begin(), next.step_seconds.end());
  pooled.forward_seconds.insert(pooled.forward_seconds.end(), next.forward_seconds.begin(),
                                next.forward_seconds.end());
  pooled.step_median = median(pooled.step_seconds);
  pooled.forward_median = median(pooled.forward_seconds);
  pooled.memory_reset = pooled.memory_reset && next.memory_reset;
  if (pooled.text_kv_cache_misses >= 0) pooled.text_kv_cache_misses += next.text_kv_cache_misses;
  const auto average = [rounds](double& into, double value) { into = (into * rounds + value) / (rounds + 1); };
  for (size_t rank = 0; rank < pooled.per_rank.size(); ++rank) {
    ScalingRankFigures& into = pooled.per_rank[rank];
    const ScalingRankFigures& from = next.per_rank[rank];
    into.bytes_match = into.bytes_match && from.bytes_match && into.bytes_per_step == from.bytes_per_step;
    into.peak_resident_bytes = std::max(into.peak_resident_bytes, from.peak_resident_bytes);
    into.relative_error = std::max(into.relative_error, from.relative_error);
    into.relative_error_vs_whole = std::max(into.relative_error_vs_whole, from.relative_error_vs_whole);
    average(into.wait_seconds_per_step, from.wait_seconds_per_step);
    average(into.matmul_seconds_per_step, from.matmul_seconds_per_step);
    average(into.attention_seconds_per_step, from.attention_seconds_per_step);
    average(into.other_op_seconds_per_step, from.other_op_seconds_per_step);
    average(into.mean_wait_seconds_per_step, from.mean_wait_seconds_per_step);
    average(into.outside_op_seconds_per_step, from.outside_op_seconds_per_step);
  }
}

double max_error(const ScalingPoint& point) {
  double error = 0;
  for (const auto& rank : point.per_rank) error = std::max(error, rank.relative_error);
  return error;
}

template <typename Field>
int64_t max_over_ranks(const ScalingPoint& point, Field field) {
  int64_t value = 0;
  for (const auto& rank : point.per_rank) value = std::max(value, field(rank));
  return value;
}

bool bytes_match(const ScalingPoint& point) {
  return std::all_of(point.per_rank.begin(), point.per_rank.end(), [](const auto& rank) { return rank.bytes_match; });
}

std::string describe(const ScalingPoint& point) {
  return detail::concat(point.weights == WeightSharding::sharded ? "sharded weights (gathers: " : "",
                        point.weights == WeightSharding::sharded
                            ? detail::concat(max_over_ranks(point, [](const auto& r) { return r.gather_bytes_per_step; }),
                                             " bytes per rank), ")
                            : std::string(),
                        "step ", point.step_median, " s, forward ", point.forward_median, " s, speedup ",
                        point.speedup, "x, efficiency ", point.efficiency, ", bytes per rank ",
                        max_over_ranks(point, [](const auto& r) { return r.bytes_per_step; }),
                        bytes_match(point) ? " (= formula)" : " (formula differs!)", ", peak RSS ",
                        max_over_ranks(point, [](const auto& r) { return r.peak_resident_bytes; }) >> 20,
                        " MiB, error vs 1 rank ", max_error(point));
}

}  // namespace

std::string to_string(ScalingStrategy strategy) {
  switch (strategy) {
    case ScalingStrategy::none: return "none";
    case ScalingStrategy::ulysses: return "ulysses";
    case ScalingStrategy::ring: return "ring";
    case ScalingStrategy::usp: return "usp";
    case ScalingStrategy::cfg: return "cfg";
  }
  TESSERA_INTERNAL_ASSERT(false, "unknown strategy");
}

const std::vector<ScalingStrategy>& all_scaling_strategies() {
  static const std::vector<ScalingStrategy> strategies{ScalingStrategy::none, ScalingStrategy::ulysses,
                                                       ScalingStrategy::ring, ScalingStrategy::usp,
                                                       ScalingStrategy::cfg};
  return strategies;
}

ScalingStrategy parse_scaling_strategy(const std::string& name) {
  for (const auto strategy : all_scaling_strategies()) {
    if (to_string(strategy) == name) return strategy;
  }
  TESSERA_CHECK(false, "unknown strategy '", name, "'; use none, ulysses, ring, usp or cfg");
}

std::string to_string(WeightSharding sharding) {
  return sharding == WeightSharding::sharded ? "sharded" : "none";
}

WeightSharding parse_weight_sharding(const std::string& name) {
  if (name == "none") return WeightSharding::none;
  if (name == "sharded") return WeightSharding::sharded;
  TESSERA_CHECK(false, "unknown weight sharding '", name, "'; use none (every rank holds the whole model) or sharded "
                "(each rank 1/N of it, gathered block by block as --shard-weights does)");
}

std::string LatentSize::to_string() const { return detail::concat(frames, "x", height, "x", width); }

LatentSize parse_latent_size(const std::string& text) {
  std::vector<int64_t> numbers;
  size_t start = 0;
  bool readable = !text.empty();
  while (readable && start <= text.size()) {
    const size_t end = std::min(text.find('x', start), text.size());
    const std::string piece = text.substr(start, end - start);
    readable = !piece.empty() && piece.size() <= 9 && piece.find_first_not_of("0123456789") == std::string::npos;
    if (readable) numbers.push_back(std::stoll(piece));
    start = end + 1;
  }
  readable = readable && (numbers.size() == 2 || numbers.size() == 3) &&
             std::all_of(numbers.begin(), numbers.end(), [](int64_t n) { return n > 0; });
  TESSERA_CHECK(readable, "cannot read a latent size from '", text, "'; write FRAMESxHEIGHTxWIDTH or FRAMESxSIZE in "
                "latent units (positive integers), e.g. 6x32x32 or 3x32");
  return {.frames = numbers[0], .height = numbers[1], .width = numbers.size() == 3 ? numbers[2] : numbers[1]};
}

std::optional<ParallelConfig> scaling_layout(ScalingStrategy strategy, int ranks, int64_t heads,
                                             std::string* why) {
  auto refuse = [why](const std::string& reason) -> std::optional<ParallelConfig> {
    if (why != nullptr) *why = reason;
    return std::nullopt;
  };
  switch (strategy) {
    case ScalingStrategy::none:
      if (ranks == 1) return ParallelConfig{.ulysses = 1, .ring = 1, .cfg = 1};
      return refuse("none runs on 1 rank");
    case ScalingStrategy::ulysses:
      if (ranks < 2) return refuse("ulysses needs 2 ranks or more");
      if (ranks > heads) return refuse(detail::concat("ulysses splits the ", heads, " heads: at most ", heads, " ranks"));
      return ParallelConfig{.ulysses = ranks, .ring = 1, .cfg = 1};
    case ScalingStrategy::ring:
      if (ranks < 2) return refuse("ring needs 2 ranks or more");
      return ParallelConfig{.ulysses = 1, .ring = ranks, .cfg = 1};
    case ScalingStrategy::usp:
      // The widest Ulysses degree that leaves a Ring of 2 or more and gives every rank a head.
      for (int ulysses = ranks / 2; ulysses >= 2; --ulysses) {
        if (ranks % ulysses == 0 && ulysses <= heads) {
          return ParallelConfig{.ulysses = ulysses, .ring = ranks / ulysses, .cfg = 1};
        }
      }
      return refuse(detail::concat("usp runs on ulysses x ring ranks, both 2 or more (ulysses at most the ", heads,
                                   " heads): 4, 6, 8, ... ranks"));
    case ScalingStrategy::cfg:
      if (ranks == 2) return ParallelConfig{.ulysses = 1, .ring = 1, .cfg = 2};
      return refuse("cfg runs the two guidance branches on 2 ranks");
  }
  TESSERA_INTERNAL_ASSERT(false, "unknown strategy");
}

std::vector<ScalingStrategy> runnable_scaling_strategies(const ScalingOptions& options, const WanConfig& config) {
  std::vector<ScalingStrategy> runnable;
  for (const auto strategy : all_scaling_strategies()) {
    bool runs = false;
    for (const int ranks : options.sizes) runs = runs || scaling_layout(strategy, ranks, config.num_attention_heads);
    if (runs) runnable.push_back(strategy);
  }
  return runnable;
}

void check_scaling_plan(const ScalingOptions& options, const WanConfig& config) {
  TESSERA_CHECK(!options.sequences.empty(), "--sequences names no sequence; e.g. --sequences 3x32x32,6x32x32");
  TESSERA_CHECK(!options.sizes.empty(), "--sizes names no world size; e.g. --sizes 1,2");
  const auto& patch = config.patch_size;
  for (const auto& latent : options.sequences) {
    const std::array<int64_t, 3> extent{latent.frames, latent.height, latent.width};
    const char* names[] = {"frames", "height", "width"};
    for (int axis = 0; axis < 3; ++axis) {
      TESSERA_CHECK(extent[axis] % patch[axis] == 0, "--sequences ", latent.to_string(), ": latent ", names[axis], " ",
                    extent[axis], " is not a multiple of the model's patch size ", patch[axis], " (patch_size ",
                    patch[0], "x", patch[1], "x", patch[2], "); use ", extent[axis] / patch[axis] * patch[axis] +
                    patch[axis], " for example");
      TESSERA_CHECK(extent[axis] / patch[axis] <= config.rope_max_seq_len, "--sequences ", latent.to_string(), ": ",
                    extent[axis] / patch[axis], " patches along the ", names[axis], " exceed the model's rope_max_seq_len ",
                    config.rope_max_seq_len, "; use at most ", config.rope_max_seq_len * patch[axis]);
    }
  }
  const auto runnable = runnable_scaling_strategies(options, config);
  const int largest = *std::max_element(options.sizes.begin(), options.sizes.end());
  for (const auto strategy : options.strategies) {
    if (std::find(runnable.begin(), runnable.end(), strategy) != runnable.end()) continue;
    std::string why;
    scaling_layout(strategy, largest, config.num_attention_heads, &why);
    TESSERA_CHECK(false, "--strategies ", to_string(strategy), " runs at none of the sizes measured (at most ", largest,
                  " ranks): ", why, ". Launch more ranks (tessera-run -np N) and widen --sizes, or leave ",
                  to_string(strategy), " out of --strategies");
  }
}

ScalingResults run_scaling_benchmark(Communicator& world, WanTransformer3DModel& model,
                                     const ScalingOptions& options) {
  c10::InferenceMode inference;
  const WanConfig& config = model.config();
  // The first `ranks` ranks of the world, one communicator per size measured; ranks outside hold null.
  std::map<int, std::shared_ptr<Communicator>> groups;
  for (const int ranks : options.sizes) {
    if (groups.count(ranks)) continue;
    groups[ranks] = world.split(world.rank() < ranks ? 0 : -1, world.rank(), detail::concat("scaling", ranks));
  }
  if (!groups.count(1)) groups[1] = world.split(world.rank() == 0 ? 0 : -1, world.rank(), "scaling1");

  ScalingResults results;
  for (size_t sequence = 0; sequence < options.sequences.size(); ++sequence) {
    const LatentSize& latent = options.sequences[sequence];
    const int64_t tokens = token_count(latent, config);
    const ParallelConfig one_rank_layout{.ulysses = 1, .ring = 1, .cfg = 1};
    std::vector<PointPlan> plans{{ScalingStrategy::none, 1, one_rank_layout, WeightSharding::none}};
    for (const auto sharding : options.weight_shardings) {
      if (sharding != WeightSharding::none) plans.push_back({ScalingStrategy::none, 1, one_rank_layout, sharding});
    }
    for (const auto strategy : options.strategies) {
      for (const int ranks : options.sizes) {
        if (strategy == ScalingStrategy::none || ranks == 1) continue;  // the reference points cover them
        std::string why;
        if (const auto layout = scaling_layout(strategy, ranks, config.num_attention_heads, &why)) {
          for (const auto sharding : options.weight_shardings) plans.push_back({strategy, ranks, *layout, sharding});
        } else {
          results.skipped.push_back({.strategy = strategy, .ranks = ranks, .latent = latent, .reason = why});
        }
      }
    }
    const StepInputs inputs = make_inputs(config, latent, options, sequence);
    std::vector<std::optional<ScalingPoint>> pooled(plans.size());  // on the ranks of each point
    for (int round = 0; round < options.rounds; ++round) {
      at::Tensor reference;
      at::Tensor whole_prediction;  // this rank's, of the last whole-weights point (a sharded one's strategy's)
      std::optional<OneRankTimes> round_one_rank;
      for (size_t index = 0; index < plans.size(); ++index) {
        const PointPlan& plan = plans[index];
        TESSERA_LOG_INFO("scaling ", latent.to_string(), " (", tokens, " tokens), round ", round + 1, "/",
                         options.rounds, ", point ", index + 1, "/", plans.size(), ": ", to_string(plan.strategy),
                         " on ", plan.ranks, " rank(s), ", plan.layout.to_string(), ", weights ",
                         plan.weights == WeightSharding::sharded ? "sharded" : "whole");
        const auto& group = groups.at(plan.ranks);
        if (group != nullptr) {
          // A sharded point follows its strategy's whole-weights point when both run (the plans' order).
          const bool after_whole = index > 0 && plans[index - 1].strategy == plan.strategy &&
                                   plans[index - 1].ranks == plan.ranks &&
                                   plans[index - 1].weights == WeightSharding::none;
          at::Tensor prediction;
          ScalingPoint point =
              run_point(group, model, plan, latent, inputs, options, reference,
                        plan.weights == WeightSharding::sharded && after_whole ? whole_prediction : at::Tensor(),
                        prediction);
          if (plan.weights == WeightSharding::none) whole_prediction = prediction;
          if (plan.strategy == ScalingStrategy::none && plan.weights == WeightSharding::none) {
            reference = prediction;
            round_one_rank = OneRankTimes{.step = point.step_median, .forward = point.forward_median};
          }
          // This round's figures for the log; the pooled ones are set after the rounds.
          if (round_one_rank) compare_with_one_rank(point, *round_one_rank);
          TESSERA_LOG_INFO("  ", describe(point));
          if (pooled[index]) {
            pool_round(*pooled[index], point, round);
          } else {
            pooled[index] = std::move(point);
          }
        }
        // The ranks outside the point wait here for as long as it takes; a participant that hangs is caught by
        // its own collectives' deadline.
        const ScopedCommunicationTimeout sitting_out(std::max(deadline_seconds(), 7 * 24 * 3600.0));
        world.barrier();
      }
    }
    // Against the one-rank point (plans[0], on rank 0, the one that reports), over all rounds.
    std::optional<OneRankTimes> one_rank;
    if (pooled.front()) {
      one_rank = OneRankTimes{.step = pooled.front()->step_median, .forward = pooled.front()->forward_median};
    }
    for (auto& point : pooled) {
      if (!point) continue;
      if (one_rank) compare_with_one_rank(*point, *one_rank);
      results.points.push_back(std::move(*point));
    }
  }
  return results;
}

std::string scaling_json(const ScalingRunDescription& run, const ScalingOptions& options,
                         const ScalingResults& results) {
  nlohmann::json document;
  document["benchmark"] = "scaling";
  document["command"] = run.command;
  document["model"] = {{"name", run.model}, {"class", WanTransformer3DModel::kClassName}, {"source", run.source}};
  for (const auto& [key, value] : run.config) document["model"]["config"][key] = value;
  document["backend"] = run.backend;
  document["world_size"] = run.world_size;
  document["threads_per_rank"] = run.threads_per_rank;
  document["device"] = options.device.str();
  document["dtype"] = run.dtype;
  document["text_tokens"] = options.text_tokens;
  document["guidance"] = {{"scale", options.guidance_scale},
                          {"mode", options.batch_guidance ? "batch [uncond, cond]" : "sequential (cond, uncond)"}};
  document["text_kv_cache"] = options.text_kv_cache == TextKVMode::off ? "off"
                              : options.text_kv_cache == TextKVMode::on ? "on"
                                                                        : "auto";
  document["warmup"] = options.warmup;
  document["repeat"] = options.repeat;
  document["rounds"] = options.rounds;
  document["seed"] = options.seed;
  document["definitions"] = {
      {"step", "the forwards one denoising step runs on each rank, with the guidance: cond then uncond (or one "
               "[uncond, cond] batch with guidance mode batch); with cfg one branch per rank and the combine "
               "(an all_gather of the prediction). No scheduler, text encoder or VAE."},
      {"time", "median over the measured steps (or forwards) of the slowest rank's time; with rounds > 1 the points "
               "ran that many times in turn and each point's measured steps of every round are pooled (phases and "
               "waits: means over its rounds)"},
      {"speedup", "step time of the 1-rank point of the same sequence / this step time; efficiency = speedup / "
                  "ranks; forward_speedup the same for one forward"},
      {"bytes", "bytes each rank sent in the last measured step, as Communicator::record counts them (all_reduce "
                "excluded: none runs), beside measure/wan_communication_formula.cpp (projection.py's formula); "
                "bytes_match: every operation's calls and bytes equal the formula's on every rank"},
      {"memory", "peak resident set (VmHWM) of each rank over the point, reset at its start by writing 5 to "
                 "/proc/self/clear_refs after malloc_trim; start = VmRSS then (weights, inputs, pools kept)"},
      {"error", "max |prediction - 1-rank prediction| / max |1-rank prediction| of the guided prediction, on "
                "every rank of the point (the 1-rank prediction broadcast from rank 0, whole weights)"},
      {"weights_sharding", "none: every rank holds the whole model; sharded: each rank of the point keeps 1/N of every "
                           "parameter and gathers each unit (parameters outside the blocks, then one per block) as "
                           "the forward reaches it (--shard-weights, docs/shard_weights.md). Sharded points count the "
                           "gathers in bytes_per_step_per_rank (one all_gather per unit and dtype, each rank sending "
                           "its share to the N-1 others) and alone in gather_bytes_per_step_per_rank, beside the "
                           "formula's; formula_gather_received_bytes_per_step_per_rank is what each rank receives "
                           "(each slab less its share); relative_error_vs_whole_per_rank compares with the same "
                           "strategy's whole-weights prediction (0: the same bits). speedup is still against the "
                           "whole-weights 1-rank point"}};
  for (const auto& point : results.points) {
    nlohmann::json row = {{"strategy", to_string(point.strategy)},
                          {"weights_sharding", to_string(point.weights)},
                          {"ranks", point.ranks},
                          {"ulysses", point.layout.ulysses},
                          {"ring", point.layout.ring},
                          {"cfg", point.layout.cfg},
                          {"latent", {point.latent.frames, point.latent.height, point.latent.width}},
                          {"tokens", point.tokens},
                          {"forwards_per_step", point.forwards_per_step},
                          {"forward_s", point.forward_median},
                          {"step_s", point.step_median},
                          {"forward_seconds", point.forward_seconds},
                          {"step_seconds", point.step_seconds},
                          {"speedup", point.speedup},
                          {"efficiency", point.efficiency},
                          {"forward_speedup", point.forward_speedup},
                          {"bytes_match", bytes_match(point)},
                          {"max_relative_error", max_error(point)},
                          {"memory_reset", point.memory_reset},
                          {"text_kv_cache_misses_in_measured_steps", point.text_kv_cache_misses}};
    for (const auto& rank : point.per_rank) {
      row["bytes_per_step_per_rank"].push_back(rank.bytes_per_step);
      row["formula_bytes_per_step_per_rank"].push_back(rank.formula_bytes_per_step);
      row["peak_rss_bytes_per_rank"].push_back(rank.peak_resident_bytes);
      row["start_rss_bytes_per_rank"].push_back(rank.start_resident_bytes);
      row["relative_error_per_rank"].push_back(rank.relative_error);
      row["wait_seconds_per_step_per_rank"].push_back(rank.wait_seconds_per_step);
      row["phases_seconds_per_step_per_rank"].push_back({{"matmul", rank.matmul_seconds_per_step},
                                                         {"attention", rank.attention_seconds_per_step},
                                                         {"other_ops", rank.other_op_seconds_per_step},
                                                         {"waits", rank.mean_wait_seconds_per_step},
                                                         {"outside_ops", rank.outside_op_seconds_per_step}});
      if (point.weights == WeightSharding::sharded) {
        row["gather_bytes_per_step_per_rank"].push_back(rank.gather_bytes_per_step);
        row["formula_gather_bytes_per_step_per_rank"].push_back(rank.formula_gather_bytes_per_step);
        row["formula_gather_received_bytes_per_step_per_rank"].push_back(rank.formula_gather_received_bytes_per_step);
        if (rank.relative_error_vs_whole >= 0) {
          row["relative_error_vs_whole_per_rank"].push_back(rank.relative_error_vs_whole);
        }
      }
    }
    document["results"].push_back(row);
  }
  document["skipped"] = nlohmann::json::array();
  for (const auto& skip : results.skipped) {
    document["skipped"].push_back({{"strategy", to_string(skip.strategy)},
                                   {"ranks", skip.ranks},
                                   {"latent", {skip.latent.frames, skip.latent.height, skip.latent.width}},
                                   {"reason", skip.reason}});
  }
  return document.dump(2) + "\n";
}

std::string scaling_table(const ScalingResults& results) {
  std::string table =
      "latent     tokens strategy weights ranks  u  r  c  forward_s    step_s   wait_s  speedup   eff  bytes/rank/step      "
      "formula match  peak_MiB  +MiB    max_err\n";
  char line[320];
  for (const auto& point : results.points) {
    const int64_t peak = max_over_ranks(point, [](const auto& r) { return r.peak_resident_bytes; });
    const int64_t growth =
        max_over_ranks(point, [](const auto& r) { return r.peak_resident_bytes - r.start_resident_bytes; });
    // The longest wait of any rank: the step's time lost to waiting on peers and transfers.
    double wait = 0;
    for (const auto& rank : point.per_rank) wait = std::max(wait, rank.wait_seconds_per_step);
    std::snprintf(line, sizeof(line), "%-10s %6lld %-8s %-7s %5d %2d %2d %2d %10.4f %9.4f %8.4f %8.2f %5.2f %15lld %12lld "
                  "%5s %9.1f %5.1f %10.1e\n",
                  point.latent.to_string().c_str(), static_cast<long long>(point.tokens),
                  to_string(point.strategy).c_str(), to_string(point.weights).c_str(), point.ranks, point.layout.ulysses, point.layout.ring,
                  point.layout.cfg, point.forward_median, point.step_median, wait, point.speedup, point.efficiency,
                  static_cast<long long>(max_over_ranks(point, [](const auto& r) { return r.bytes_per_step; })),
                  static_cast<long long>(max_over_ranks(point, [](const auto& r) { return r.formula_bytes_per_step; })),
                  bytes_match(point) ? "yes" : "NO", static_cast<double>(peak) / (1 << 20),
                  static_cast<double>(growth) / (1 << 20), max_error(point));
    table += line;
  }
  // Once per strategy and size: the reason rarely depends on the sequence (the JSON lists every one).
  std::set<std::string> reported;
  for (const auto& skip : results.skipped) {
    const std::string line = detail::concat("not run: ", to_string(skip.strategy), " on ", skip.ranks, " ranks (",
                                            skip.reason, ")\n");
    if (reported.insert(line).second) table += line;
  }
  return table;
}

}  // namespace tessera
