#include "src/schedulers/flow_match_euler_discrete.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/check.h"

namespace tessera {

FlowMatchEulerDiscreteScheduler::FlowMatchEulerDiscreteScheduler(FlowMatchEulerDiscreteConfig config)
    : config_(std::move(config)), shift_(config_.shift) {
  TESSERA_CHECK(config_.num_train_timesteps > 0 && config_.num_train_timesteps <= kMaxTrainTimesteps, class_name(),
                ": num_train_timesteps must be in [1, ", kMaxTrainTimesteps, "], got ", config_.num_train_timesteps);
  // Outside these ranges the sigmas leave [0, 1] or become NaN (shift 0 gives 0/0 at sigma 1).
  TESSERA_CHECK(config_.shift > 0, class_name(), ": shift must be positive, got ", config_.shift);
  TESSERA_CHECK(!config_.shift_terminal || (*config_.shift_terminal >= 0 && *config_.shift_terminal < 1), class_name(),
                ": shift_terminal must be in [0, 1) (0: none), got ", config_.shift_terminal.value_or(0));
  TESSERA_CHECK(int(config_.use_karras_sigmas) + int(config_.use_exponential_sigmas) + int(config_.use_beta_sigmas) <= 1,
                class_name(), ": at most one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true");
  TESSERA_CHECK(!config_.use_beta_sigmas, class_name(),
                ": use_beta_sigmas=true is not supported by tessera (supported: use_karras_sigmas, "
                "use_exponential_sigmas, or neither)");
  TESSERA_CHECK(!config_.stochastic_sampling, class_name(),
                ": stochastic_sampling=true is not supported by tessera (supported: false, the deterministic "
                "Euler step)");
  // The training schedule only matters through its ends, which bound every inference schedule. diffusers
  // builds it in float32, so its ends are float32 values.
  const int64_t train_steps = config_.num_train_timesteps;
  at::Tensor sigmas = at::arange(train_steps, 0, -1, at::kFloat) / train_steps;
  if (!config_.use_dynamic_shifting) sigmas = shift_ * sigmas / (1 + (shift_ - 1) * sigmas);
  sigma_max_ = sigmas[0].item<double>();
  sigma_min_ = sigmas[-1].item<double>();
}

void FlowMatchEulerDiscreteScheduler::require_mu(const std::optional<double>& mu) const {
  TESSERA_CHECK(!config_.use_dynamic_shifting || mu.has_value(), class_name(),
                ".set_timesteps: mu must be given because the config sets use_dynamic_shifting=true");
}

void FlowMatchEulerDiscreteScheduler::build_schedule(int num_inference_steps, std::optional<double> mu) {
  require_mu(mu);
  const double train_steps = config_.num_train_timesteps;
  std::vector<double> sigmas = numpy_linspace(sigma_max_ * train_steps, sigma_min_ * train_steps, num_inference_steps);
  for (double& sigma : sigmas) sigma /= train_steps;
  sigmas = config_.use_dynamic_shifting ? time_shift_sigmas(std::move(sigmas), *mu, config_.time_shift_type)
                                        : shift_sigmas(std::move(sigmas), shift_);
  // diffusers tests the terminal for truth, so 0 means "no stretch".
  if (config_.shift_terminal.value_or(0.0) != 0.0) {
    sigmas = stretch_sigmas_to_terminal(std::move(sigmas), *config_.shift_terminal);
  }
  if (config_.use_karras_sigmas) sigmas = karras_sigmas(sigmas, num_inference_steps);
  if (config_.use_exponential_sigmas) sigmas = exponential_sigmas(sigmas, num_inference_steps);
  finish_schedule(float32_tensor(sigmas));
}

void FlowMatchEulerDiscreteScheduler::build_schedule_from_sigmas(const std::vector<double>& given_sigmas,
                                                                 std::optional<double> mu) {
  require_mu(mu);
  // diffusers rounds given sigmas to float32 first and shifts them in float32; ATen's float32 ops with a
  // double scalar round the scalar to float32 first, as numpy does, so the arithmetic below matches.
  at::Tensor sigmas = float32_tensor(given_sigmas);
  if (config_.use_dynamic_shifting) {
    const double numerator = config_.time_shift_type == TimeShiftType::exponential ? std::exp(*mu) : *mu;
    sigmas = numerator / (numerator + (1.0 / sigmas - 1.0));
  } else {
    sigmas = shift_ * sigmas / (1 + (shift_ - 1) * sigmas);
  }
  if (config_.shift_terminal.value_or(0.0) != 0.0) {
    const at::Tensor one_minus = 1.0 - sigmas;
    const at::Tensor scale = one_minus[-1] / (1.0 - *config_.shift_terminal);
    sigmas = 1.0 - one_minus / scale;
  }
  if (config_.use_karras_sigmas || config_.use_exponential_sigmas) {
    const at::Tensor as_double = sigmas.to(at::kDouble).contiguous();
    const std::vector<double> values(as_double.data_ptr<double>(), as_double.data_ptr<double>() + as_double.numel());
    const int64_t count = sigmas.numel();
    sigmas = float32_tensor(config_.use_karras_sigmas ? karras_sigmas(values, count)
                                                      : exponential_sigmas(values, count));
  }
  finish_schedule(sigmas);
}

void FlowMatchEulerDiscreteScheduler::finish_schedule(at::Tensor sigmas) {
  const int64_t train_steps = config_.num_train_timesteps;
  if (config_.invert_sigmas) {
    sigmas = 1.0 - sigmas;
    timesteps_ = sigmas * train_steps;
    sigmas_ = at::cat({sigmas, at::ones({1}, sigmas.options())});
  } else {
    timesteps_ = sigmas * train_steps;
    sigmas_ = at::cat({sigmas, at::zeros({1}, sigmas.options())});
  }
}

int64_t FlowMatchEulerDiscreteScheduler::index_for_timestep(double timestep) const {
  require_schedule("index_for_timestep");
  const at::Tensor matches = at::nonzero(at::eq(timesteps_, timestep));
  TESSERA_CHECK(matches.size(0) > 0, class_name(), ": timestep ", timestep,
                " is not in the schedule; pass one of timesteps()");
  // A timestep can repeat (inverted or clamped schedules); diffusers then takes the second, so that
  // image-to-image starting mid-schedule does not skip a sigma.
  return matches[matches.size(0) > 1 ? 1 : 0][0].item<int64_t>();
}

at::Tensor FlowMatchEulerDiscreteScheduler::scale_noise(const at::Tensor& sample, const at::Tensor& timestep,
                                                       const at::Tensor& noise) {
  const std::vector<int64_t> indices = noise_step_indices(timestep);
  const at::Tensor sigmas = sigmas_.to(sample.device(), sample.scalar_type());
  at::Tensor sigma = sigmas.index_select(0, at::tensor(at::ArrayRef<int64_t>(indices)).to(sample.device())).flatten();
  while (sigma.dim() < sample.dim()) sigma = sigma.unsqueeze(-1);
  return sigma * noise + (1.0 - sigma) * sample;
}

at::Tensor FlowMatchEulerDiscreteScheduler::step_at_index(const at::Tensor& model_output, const at::Tensor& sample) {
  const int64_t index = *step_index_;
  const at::Tensor dt = sigmas_[index + 1] - sigmas_[index];
  // diffusers steps in float32 whatever the sample's dtype, and returns the model output's dtype.
  const at::Tensor previous = sample.to(at::kFloat) + dt * model_output;
  return previous.to(model_output.scalar_type());
}

}  // namespace tessera
