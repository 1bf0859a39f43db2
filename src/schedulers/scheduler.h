#pragma once
// The denoising-loop interface every scheduler implements, mirroring diffusers' scheduler API:
//
//   scheduler.set_timesteps(steps);
//   for (int64_t i = 0; i < steps; ++i) {
//     const double t = scheduler.timesteps()[i].item<double>();
//     sample = scheduler.step(model(sample, t), t, sample);
//   }
//
// A scheduler keeps state between steps (the step index, and for multistep solvers earlier model
// outputs), so one instance serves one generation at a time; set_timesteps() or reset() starts anew.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // The diffusers class this scheduler reproduces, e.g. "UniPCMultistepScheduler".
  virtual std::string class_name() const = 0;
  // The training schedule's length (config "num_train_timesteps"): Wan2.2's expert boundary is a fraction of it.
  virtual int num_train_timesteps() const = 0;

  // Builds the schedule for `num_inference_steps` denoising steps and resets the generation state.
  // `mu` is the resolution-dependent shift; it is required exactly when the config enables
  // use_dynamic_shifting, and ignored otherwise (as in diffusers).
  void set_timesteps(int num_inference_steps, std::optional<double> mu = std::nullopt);
  // The same from caller-chosen unshifted sigmas (FLUX passes linspace(1, 1/n, n)); only schedulers
  // whose diffusers twin accepts custom sigmas implement it.
  void set_timesteps(const std::vector<double>& sigmas, std::optional<double> mu = std::nullopt);

  // [num_inference_steps] timesteps to give the model (float32 or int64, as diffusers has them).
  const at::Tensor& timesteps() const;
  // [num_inference_steps + 1] float32 sigmas; the last is where the final step lands.
  const at::Tensor& sigmas() const;
  int64_t num_inference_steps() const;

  // One denoising step from `sample` at `timestep` (one of timesteps()) given the model's output there;
  // returns the sample for the next timestep. The first step after set_timesteps/reset finds its
  // position from `timestep` (or from set_begin_index); later steps advance by one.
  at::Tensor step(const at::Tensor& model_output, double timestep, const at::Tensor& sample);

  // diffusers' `order` class attribute: model evaluations per step (1 for both implemented schedulers).
  virtual int order() const { return 1; }
  // Standard deviation of the initial noise the pipeline draws.
  virtual double init_noise_sigma() const { return 1.0; }
  // Input scaling before the model; the identity for the implemented schedulers.
  virtual at::Tensor scale_model_input(const at::Tensor& sample, double timestep) const;

  // Flow-matching forward process: the sample noised to `timestep` (1-D, one per batch entry or one for
  // all). FlowMatchEulerDiscreteScheduler only.
  virtual at::Tensor scale_noise(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& noise);
  // Variance-preserving forward process (UniPCMultistepScheduler only).
  virtual at::Tensor add_noise(const at::Tensor& original_samples, const at::Tensor& noise,
                               const at::Tensor& timesteps);

  // Forgets the generation in progress (step index, begin index, solver history); keeps the schedule.
  void reset();
  // Start at this index instead of looking the first timestep up (image-to-image strength).
  void set_begin_index(int64_t begin_index);
  std::optional<int64_t> step_index() const { return step_index_; }
  std::optional<int64_t> begin_index() const { return begin_index_; }
  // The position of `timestep` in timesteps(), following the diffusers rules of each scheduler.
  virtual int64_t index_for_timestep(double timestep) const = 0;

 protected:
  // Fill timesteps_ and sigmas_.
  virtual void build_schedule(int num_inference_steps, std::optional<double> mu) = 0;
  virtual void build_schedule_from_sigmas(const std::vector<double>& sigmas, std::optional<double> mu);
  // The step at step_index_ (set, and below num_inference_steps()); the caller advances the index.
  virtual at::Tensor step_at_index(const at::Tensor& model_output, const at::Tensor& sample) = 0;
  // Drop whatever a multistep solver remembers of earlier steps.
  virtual void reset_history() {}

  // Per batch entry of `timestep` (0-D or 1-D): the schedule index its noise level is read from.
  std::vector<int64_t> noise_step_indices(const at::Tensor& timestep) const;
  void require_schedule(const char* method) const;

  at::Tensor timesteps_;
  at::Tensor sigmas_;
  std::optional<int64_t> step_index_;
  std::optional<int64_t> begin_index_;
};

// The most training timesteps a scheduler accepts. Real configs have 1000; the schedulers keep tables with one
// entry per training timestep, so a count like 1e9 would only exhaust memory.
inline constexpr int kMaxTrainTimesteps = 1000000;

// The values rounded to float32 as a 1-D CPU tensor: how diffusers stores float64 schedules.
at::Tensor float32_tensor(const std::vector<double>& values);

}  // namespace tessera
