#pragma once
// diffusers' FlowMatchEulerDiscreteScheduler (Wan, FLUX, SD3): Euler steps along the flow-matching
// velocity, x_next = x + (sigma_next - sigma) * v, on a shifted sigma schedule.
#include <optional>

#include "src/schedulers/scheduler.h"
#include "src/schedulers/sigma_schedule.h"

namespace tessera {

// The scheduler_config.json fields, with diffusers' defaults.
struct FlowMatchEulerDiscreteConfig {
  int num_train_timesteps = 1000;
  double shift = 1.0;
  bool use_dynamic_shifting = false;
  // base/max shift and image sequence lengths are read by pipelines to compute `mu`, not by the scheduler.
  std::optional<double> base_shift = 0.5;
  std::optional<double> max_shift = 1.15;
  int base_image_seq_len = 256;
  int max_image_seq_len = 4096;
  bool invert_sigmas = false;
  std::optional<double> shift_terminal;
  bool use_karras_sigmas = false;
  bool use_exponential_sigmas = false;
  bool use_beta_sigmas = false;      // not implemented: needs the inverse regularized incomplete beta
  TimeShiftType time_shift_type = TimeShiftType::exponential;
  bool stochastic_sampling = false;  // not implemented: needs the caller's random generator
};

class FlowMatchEulerDiscreteScheduler : public Scheduler {
 public:
  // Throws tessera::Error naming the option when the config asks for something not implemented.
  explicit FlowMatchEulerDiscreteScheduler(FlowMatchEulerDiscreteConfig config = {});

  std::string class_name() const override { return "FlowMatchEulerDiscreteScheduler"; }
  const FlowMatchEulerDiscreteConfig& config() const { return config_; }
  int num_train_timesteps() const override { return config_.num_train_timesteps; }
  double shift() const { return shift_; }

  at::Tensor scale_noise(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& noise) override;
  int64_t index_for_timestep(double timestep) const override;

 protected:
  void build_schedule(int num_inference_steps, std::optional<double> mu) override;
  void build_schedule_from_sigmas(const std::vector<double>& sigmas, std::optional<double> mu) override;
  at::Tensor step_at_index(const at::Tensor& model_output, const at::Tensor& sample) override;

 private:
  // Timesteps from the final float32 sigmas, inversion, and the closing sigma.
  void finish_schedule(at::Tensor sigmas);
  void require_mu(const std::optional<double>& mu) const;

  FlowMatchEulerDiscreteConfig config_;
  double shift_;
  // Ends of the training schedule (float32 values, as diffusers reads them with .item()).
  double sigma_min_;
  double sigma_max_;
};

}  // namespace tessera
