#include "src/schedulers/sigma_schedule.h"

#include <cmath>

#include "common/check.h"

namespace tessera {

std::vector<double> numpy_linspace(double start, double stop, int64_t num) {
  TESSERA_INTERNAL_ASSERT(num >= 1, "linspace needs at least one point, got ", num);
  std::vector<double> values(static_cast<size_t>(num));
  if (num == 1) {
    values[0] = start;
    return values;
  }
  const double div = static_cast<double>(num - 1);
  const double delta = stop - start;
  const double step = delta / div;
  for (int64_t i = 0; i < num; ++i) {
    const double index = static_cast<double>(i);
    // numpy divides first when the step underflows to zero (denormal ranges).
    values[i] = (step == 0.0 ? index / div * delta : index * step) + start;
  }
  values.back() = stop;
  return values;
}

std::vector<double> numpy_arange(double start, double stop, double step) {
  TESSERA_INTERNAL_ASSERT(step != 0.0);
  const double length = std::ceil((stop - start) / step);
  std::vector<double> values(length > 0 ? static_cast<size_t>(length) : 0);
  if (values.empty()) return values;
  values[0] = start;
  // numpy fills from the first two elements, with the step as their rounded difference.
  const double delta = (start + step) - start;
  for (size_t i = 1; i < values.size(); ++i) values[i] = start + static_cast<double>(i) * delta;
  return values;
}

std::vector<double> shift_sigmas(std::vector<double> sigmas, double shift) {
  for (double& sigma : sigmas) sigma = shift * sigma / (1.0 + (shift - 1.0) * sigma);
  return sigmas;
}

std::vector<double> time_shift_sigmas(std::vector<double> sigmas, double mu, TimeShiftType type) {
  const double numerator = type == TimeShiftType::exponential ? std::exp(mu) : mu;
  for (double& sigma : sigmas) sigma = numerator / (numerator + (1.0 / sigma - 1.0));
  return sigmas;
}

std::vector<double> stretch_sigmas_to_terminal(std::vector<double> sigmas, double shift_terminal) {
  TESSERA_INTERNAL_ASSERT(!sigmas.empty());
  const double scale = (1.0 - sigmas.back()) / (1.0 - shift_terminal);
  for (double& sigma : sigmas) sigma = 1.0 - (1.0 - sigma) / scale;
  return sigmas;
}

std::vector<double> karras_sigmas(const std::vector<double>& sigmas, int64_t num) {
  TESSERA_INTERNAL_ASSERT(!sigmas.empty());
  constexpr double rho = 7.0;
  const double min_inv_rho = std::pow(sigmas.back(), 1.0 / rho);
  const double max_inv_rho = std::pow(sigmas.front(), 1.0 / rho);
  std::vector<double> ramp = numpy_linspace(0.0, 1.0, num);
  for (double& r : ramp) r = std::pow(max_inv_rho + r * (min_inv_rho - max_inv_rho), rho);
  return ramp;
}

std::vector<double> exponential_sigmas(const std::vector<double>& sigmas, int64_t num) {
  TESSERA_INTERNAL_ASSERT(!sigmas.empty());
  std::vector<double> logs = numpy_linspace(std::log(sigmas.front()), std::log(sigmas.back()), num);
  for (double& value : logs) value = std::exp(value);
  return logs;
}

}  // namespace tessera
