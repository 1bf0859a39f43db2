#pragma once
// diffusers' UniPCMultistepScheduler (Wan's default): the UniPC predictor-corrector multistep solver
// (Zhao et al. 2023) in its B(h) variants bh1 and bh2, on either a variance-preserving beta schedule or
// a flow-matching sigma schedule.
#include <optional>
#include <utility>
#include <vector>

#include "src/schedulers/scheduler.h"
#include "src/schedulers/sigma_schedule.h"

namespace tessera {

enum class BetaSchedule { linear, scaled_linear, squaredcos_cap_v2 };
enum class PredictionType { epsilon, sample, v_prediction, flow_prediction };
enum class UniPCSolverType { bh1, bh2 };
enum class TimestepSpacing { linspace, leading, trailing };
enum class FinalSigmasType { zero, sigma_min };

// The scheduler_config.json fields, with diffusers' defaults.
struct UniPCMultistepConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.0001;
  double beta_end = 0.02;
  BetaSchedule beta_schedule = BetaSchedule::linear;
  std::optional<std::vector<double>> trained_betas;  // replaces the beta schedule when given
  int solver_order = 2;
  PredictionType prediction_type = PredictionType::epsilon;
  bool thresholding = false;
  double dynamic_thresholding_ratio = 0.995;
  double sample_max_value = 1.0;
  bool predict_x0 = true;
  UniPCSolverType solver_type = UniPCSolverType::bh2;
  bool lower_order_final = true;
  std::vector<int64_t> disable_corrector;  // step indices whose following corrector is skipped
  bool use_karras_sigmas = false;          // not implemented
  bool use_exponential_sigmas = false;     // not implemented
  bool use_beta_sigmas = false;            // not implemented
  bool use_flow_sigmas = false;
  double flow_shift = 1.0;
  TimestepSpacing timestep_spacing = TimestepSpacing::linspace;
  int steps_offset = 0;
  FinalSigmasType final_sigmas_type = FinalSigmasType::zero;
  bool rescale_betas_zero_snr = false;
  bool use_dynamic_shifting = false;
  TimeShiftType time_shift_type = TimeShiftType::exponential;
  std::optional<double> shift_terminal;  // flow sigmas only
};

class UniPCMultistepScheduler : public Scheduler {
 public:
  // Throws tessera::Error naming the option when the config asks for something not implemented.
  explicit UniPCMultistepScheduler(UniPCMultistepConfig config = {});

  std::string class_name() const override { return "UniPCMultistepScheduler"; }
  const UniPCMultistepConfig& config() const { return config_; }
  int num_train_timesteps() const override { return config_.num_train_timesteps; }

  at::Tensor add_noise(const at::Tensor& original_samples, const at::Tensor& noise,
                       const at::Tensor& timesteps) override;
  int64_t index_for_timestep(double timestep) const override;

 protected:
  void build_schedule(int num_inference_steps, std::optional<double> mu) override;
  at::Tensor step_at_index(const at::Tensor& model_output, const at::Tensor& sample) override;
  void reset_history() override;

 private:
  // The per-step quantities of one UniPC update from sigma index `from` to `to`.
  struct Update;
  Update prepare_update(int64_t to, int64_t from, int order) const;

  // Fills sigmas_ from the shifted flow-matching schedule and returns the matching timesteps.
  std::vector<int64_t> build_flow_schedule(int num_inference_steps, std::optional<double> mu);
  std::vector<int64_t> spaced_timesteps(int num_inference_steps) const;
  // The model output as a data (x0) or a noise prediction, whichever the solver works in.
  at::Tensor convert_model_output(const at::Tensor& model_output, const at::Tensor& sample) const;
  at::Tensor threshold_sample(const at::Tensor& sample) const;
  at::Tensor predictor(const at::Tensor& sample, int order) const;
  at::Tensor corrector(const at::Tensor& this_output, const at::Tensor& last_sample, const at::Tensor& this_sample,
                       int order) const;
  // (alpha_t, sigma_t) of the diffusion at noise level `sigma`.
  std::pair<at::Tensor, at::Tensor> alpha_sigma(const at::Tensor& sigma) const;
  at::Tensor log_snr(int64_t sigma_index) const;

  UniPCMultistepConfig config_;
  at::Tensor alphas_cumprod_;  // float32 [num_train_timesteps]
  at::Tensor train_sigmas_;    // float32 [num_train_timesteps], sqrt((1 - alpha_bar) / alpha_bar)

  // Converted model outputs of the last solver_order steps, oldest first; undefined until filled.
  std::vector<at::Tensor> model_outputs_;
  int lower_order_nums_ = 0;
  int this_order_ = 0;
  at::Tensor last_sample_;
};

}  // namespace tessera
