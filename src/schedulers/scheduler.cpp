#include "src/schedulers/scheduler.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera {

void Scheduler::set_timesteps(int num_inference_steps, std::optional<double> mu) {
  TESSERA_CHECK(num_inference_steps > 0, class_name(), ".set_timesteps: num_inference_steps must be positive, got ",
                num_inference_steps);
  build_schedule(num_inference_steps, mu);
  reset();
}

void Scheduler::set_timesteps(const std::vector<double>& sigmas, std::optional<double> mu) {
  TESSERA_CHECK(!sigmas.empty(), class_name(), ".set_timesteps: the custom sigmas are empty");
  build_schedule_from_sigmas(sigmas, mu);
  reset();
}

void Scheduler::build_schedule_from_sigmas(const std::vector<double>&, std::optional<double>) {
  TESSERA_CHECK(false, class_name(), " does not take custom sigmas; call set_timesteps(num_inference_steps)");
}

const at::Tensor& Scheduler::timesteps() const {
  require_schedule("timesteps");
  return timesteps_;
}

const at::Tensor& Scheduler::sigmas() const {
  require_schedule("sigmas");
  return sigmas_;
}

int64_t Scheduler::num_inference_steps() const {
  require_schedule("num_inference_steps");
  return timesteps_.size(0);
}

at::Tensor Scheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample) {
  require_schedule("step");
  TESSERA_CHECK(model_output.sizes() == sample.sizes(), class_name(), ".step: model_output has shape ",
                model_output.sizes(), " but sample has shape ", sample.sizes());
  if (!step_index_) step_index_ = begin_index_ ? *begin_index_ : index_for_timestep(timestep);
  TESSERA_CHECK(*step_index_ >= 0 && *step_index_ < num_inference_steps(), class_name(), ".step: step index ",
                *step_index_, " is past the last of ", num_inference_steps(),
                " steps; call set_timesteps or reset before a new generation");
  at::Tensor previous_sample = step_at_index(model_output, sample);
  ++*step_index_;
  return previous_sample;
}

at::Tensor Scheduler::scale_model_input(const at::Tensor& sample, double) const { return sample; }

at::Tensor Scheduler::scale_noise(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  TESSERA_CHECK(false, class_name(), " has no scale_noise (the flow-matching forward process); use add_noise");
  return {};
}

at::Tensor Scheduler::add_noise(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  TESSERA_CHECK(false, class_name(), " has no add_noise; flow-matching schedulers noise with scale_noise");
  return {};
}

void Scheduler::reset() {
  step_index_.reset();
  begin_index_.reset();
  reset_history();
}

void Scheduler::set_begin_index(int64_t begin_index) {
  TESSERA_CHECK(begin_index >= 0, class_name(), ".set_begin_index: the index must be non-negative, got ",
                begin_index);
  begin_index_ = begin_index;
}

std::vector<int64_t> Scheduler::noise_step_indices(const at::Tensor& timestep) const {
  require_schedule("the noising of a sample");
  TESSERA_CHECK(timestep.dim() <= 1, class_name(), ": the timestep for noising must be 0-D or 1-D, got shape ",
                timestep.sizes());
  const at::Tensor values = timestep.reshape({-1}).to(at::kCPU, at::kDouble);
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(values.numel()));
  for (int64_t i = 0; i < values.numel(); ++i) {
    if (!begin_index_) {
      indices.push_back(index_for_timestep(values[i].item<double>()));
    } else {
      indices.push_back(step_index_ ? *step_index_ : *begin_index_);
    }
  }
  return indices;
}

void Scheduler::require_schedule(const char* method) const {
  TESSERA_CHECK(timesteps_.defined(), class_name(), ": call set_timesteps before ", method);
}

at::Tensor float32_tensor(const std::vector<double>& values) {
  return at::tensor(at::ArrayRef<double>(values), at::kDouble).to(at::kFloat);
}

}  // namespace tessera
