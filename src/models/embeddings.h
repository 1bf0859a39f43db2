#pragma once
// Positional and timestep embeddings shared by the DiT models (Wan, later FLUX), numerically as diffusers.
#include <ATen/core/Tensor.h>

#include <utility>

namespace tessera {

// Sinusoidal timestep embedding [N] -> [N, dim] in fp32 (diffusers get_timestep_embedding).
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                              double downscale_freq_shift, double scale = 1.0, double max_period = 10000.0);

// 1-D rotary frequencies for positions 0..positions-1: (cos, sin), each [positions, dim] fp32 with every
// frequency repeated twice (interleaved pairs). Computed in fp64 like diffusers, then rounded.
std::pair<at::Tensor, at::Tensor> rotary_frequencies(int64_t dim, int64_t positions, double theta = 10000.0);

// The same at arbitrary positions [S] (FLUX's position ids): (cos, sin), each [S, dim] fp32 on the positions'
// device. Positions are rounded to fp32 first and the angles taken in fp64, as diffusers' FluxPosEmbed does.
std::pair<at::Tensor, at::Tensor> rotary_frequencies(int64_t dim, const at::Tensor& positions, double theta = 10000.0);

}  // namespace tessera
