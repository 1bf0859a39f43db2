#pragma once
// The bytes tessera's communicator records (Communicator::record) for one Wan transformer forward under context
// parallelism, rank by rank: the C++ form of communication_per_forward in benchmarks/projection.py, derived from
// parallel/ulysses_attention.cpp, parallel/ring_attention.cpp and the plan's proj_out gather, plus the guidance
// combine of parallel/cfg_parallel.cpp and the gathers of sharded weights (parallel/sharded_weights.cpp).
// `tessera bench scaling` checks every point's measured bytes against it.
#include <cstdint>
#include <vector>

#include "parallel/communicator.h"
#include "parallel/parallel_config.h"

namespace tessera {

struct WanCommunicationShape {
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t output_width = 0;  // out_channels x patch volume: proj_out's features per token
  int64_t tokens = 0;        // patches in the whole sequence
  int64_t batch = 1;
  int64_t element_size = 4;  // bytes per activation element (the model's dtype)
};

// Per forward, for each position of one context-parallel group of `config.ulysses` x `config.ring` ranks
// (position = ring index x ulysses + ulysses index, as mesh_coordinates lays them out): operation -> calls and
// bytes sent. Empty maps when the group has one rank.
std::vector<CommunicationStats> wan_forward_communication(const WanCommunicationShape& shape,
                                                          const ParallelConfig& config);

// The guidance combine of CFG-parallel (combine_guidance): each rank of the pair sends its branch's prediction of
// `prediction_bytes` to the other, once per step.
CommunicationStats guidance_combine_communication(int64_t prediction_bytes);

// One slab of a sharded model's weights (parallel/sharded_weights.h): a unit's parameters of one dtype, end to end.
struct WeightSlabSize {
  int64_t elements = 0;
  int64_t element_size = 0;
};

// The weight gathers of one forward of a model sharded across `ranks` ranks (--shard-weights), for the rank at
// `rank`: every unit is gathered once, one all_gather per slab, in which the rank sends its share (shard_sizes of the
// slab's elements: the first total % ranks ranks one more) to each other rank. Empty on one rank, which views its
// own buffers.
CommunicationStats weight_gather_communication(const std::vector<WeightSlabSize>& slabs, int ranks, int rank);
// What that rank receives in the same gathers: each slab's bytes less its own share. Summed over the ranks it equals
// what they send; rank by rank it differs where the shares are uneven.
int64_t weight_gather_received_bytes(const std::vector<WeightSlabSize>& slabs, int ranks, int rank);

// `stats` with every call and byte count multiplied by `times` (a step's forwards).
CommunicationStats repeated(const CommunicationStats& stats, int64_t times);
int64_t total_bytes_sent(const CommunicationStats& stats);

}  // namespace tessera
