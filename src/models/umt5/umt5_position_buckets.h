#pragma once
// T5's relative position buckets for bidirectional (encoder) attention: half the buckets for keys after the
// query, half for keys before; within each, distances below a quarter of the buckets get one bucket each and
// longer ones share log-spaced buckets up to max_distance, beyond which all fall in the last.
#include <ATen/core/Tensor.h>

namespace tessera {

// [query_length, key_length] int64 on `device`: the bucket of key position minus query position.
at::Tensor relative_position_buckets(int64_t query_length, int64_t key_length, int64_t num_buckets,
                                     int64_t max_distance, c10::Device device);

}  // namespace tessera
