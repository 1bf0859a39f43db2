#pragma once
// The float64 arithmetic that turns a step count into a sigma schedule, shared by the schedulers. Each
// function repeats numpy's operation order exactly, so the schedules equal diffusers' bit for bit before
// they are rounded to float32. Plain C++ without ATen, compiled without fused multiply-add.
#include <cstdint>
#include <vector>

namespace tessera {

// How a resolution-dependent `mu` bends the schedule ("time_shift_type" in diffusers configs).
enum class TimeShiftType { exponential, linear };

// numpy.linspace(start, stop, num) for float64, endpoint included.
std::vector<double> numpy_linspace(double start, double stop, int64_t num);
// numpy.arange(start, stop, step) for float64: its length and its fill rule.
std::vector<double> numpy_arange(double start, double stop, double step);

// shift * s / (1 + (shift - 1) * s): the static shift of flow-matching schedules.
std::vector<double> shift_sigmas(std::vector<double> sigmas, double shift);

// exp(mu) / (exp(mu) + (1/s - 1)) or, for linear, mu / (mu + (1/s - 1)).
std::vector<double> time_shift_sigmas(std::vector<double> sigmas, double mu, TimeShiftType type);

// Rescales 1 - s so that the last sigma becomes `shift_terminal`.
std::vector<double> stretch_sigmas_to_terminal(std::vector<double> sigmas, double shift_terminal);

// Karras et al. (rho = 7) and log-linear schedules between the ends of `sigmas`, `num` points long.
std::vector<double> karras_sigmas(const std::vector<double>& sigmas, int64_t num);
std::vector<double> exponential_sigmas(const std::vector<double>& sigmas, int64_t num);

}  // namespace tessera
