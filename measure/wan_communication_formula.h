#pragma once
// The bytes tessera's communicator records (Communicator::record) for one Wan transformer forward under context
// parallelism, rank by rank: the C++ form of communication_per_forward in benchmarks/projection.py, derived from
// parallel/ulysses_attention.cpp, parallel/ring_attention.cpp and the plan's proj_out gather, plus the guidance
// combine of parallel/cfg_parallel.cpp. `tessera bench scaling` checks every point's measured bytes against it.
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

// `stats` with every call and byte count multiplied by `times` (a step's forwards).
CommunicationStats repeated(const CommunicationStats& stats, int64_t times);
int64_t total_bytes_sent(const CommunicationStats& stats);

}  // namespace tessera
