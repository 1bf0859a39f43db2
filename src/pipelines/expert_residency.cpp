#include "src/pipelines/expert_residency.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/module.h>

#include <malloc.h>

#include <chrono>

#include "common/check.h"
#include "src/io/load_weights.h"
#include "src/io/weight_source.h"
#include "src/models/weight_storage.h"
#include "src/models/layers.h"
#include "src/models/model.h"

namespace tessera {
namespace {

// What load_weights fills: every defined parameter and buffer, each a handle on the tensor the layers hold.
std::vector<at::Tensor> weights_of(Model& model) {
  std::vector<at::Tensor> tensors;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.value().defined()) tensors.push_back(item.value());
  }
  for (const auto& item : model.named_buffers(/*recurse=*/true)) {
    if (item.value().defined()) tensors.push_back(item.value());
  }
  return tensors;
}

}  // namespace

IdleExpert parse_idle_expert(const std::string& text, c10::Device device, bool weights_edited) {
  if (text == "auto") {
    if (!device.is_cpu()) return IdleExpert::host;
    return weights_edited ? IdleExpert::resident : IdleExpert::reload;
  }
  if (text == "resident") return IdleExpert::resident;
  if (text == "host") return IdleExpert::host;
  TESSERA_CHECK(text == "reload", "--idle-expert '", text, "': use auto, resident (both experts stay on the device), "
                "host (the idle one waits in host memory) or reload (it is read again from its files)");
  TESSERA_CHECK(!weights_edited, "--idle-expert reload reads an idle expert's weights again from its files, which "
                "would drop the LoRAs fused into them; use --lora-mode hooks, or --idle-expert host or resident");
  return IdleExpert::reload;
}

const char* idle_expert_name(IdleExpert policy) {
  switch (policy) {
    case IdleExpert::resident: return "resident";
    case IdleExpert::host: return "host";
    case IdleExpert::reload: return "reload";
  }
  return "?";
}

bool parks_off_device(IdleExpert policy, c10::Device device) {
  // On the CPU, host memory is where the weights already are.
  return policy == IdleExpert::reload || (policy == IdleExpert::host && !device.is_cpu());
}

ExpertResidency::ExpertResidency(IdleExpert policy, c10::Device device, c10::ScalarType dtype)
    : policy_(policy), device_(device), dtype_(dtype) {}

void ExpertResidency::add(Model& model, const std::string& weights_dir, bool active) {
  experts_.push_back({.model = &model, .weights_dir = weights_dir, .on_device = true});
  if (!active) park(experts_.back());
}

bool ExpertResidency::on_device(const Model& model) const {
  for (const Expert& expert : experts_) {
    if (expert.model == &model) return expert.on_device;
  }
  TESSERA_INTERNAL_ASSERT(false, "a model the pipeline's residency does not hold");
  return false;
}

ExpertResidency::Expert& ExpertResidency::entry(const Model& model) {
  for (Expert& expert : experts_) {
    if (expert.model == &model) return expert;
  }
  TESSERA_INTERNAL_ASSERT(false, "a model the pipeline's residency does not hold");
  return experts_.front();
}

void ExpertResidency::activate(Model& model) {
  Expert& wanted = entry(model);
  if (wanted.on_device) return;
  const auto start = std::chrono::steady_clock::now();
  for (Expert& expert : experts_) {
    if (&expert != &wanted && expert.on_device) park(expert);
  }
  restore(wanted);
  ++switches_;
  switch_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}


void ExpertResidency::park(Expert& expert) {
  // Parameters stay ordinary tensors even when a switch happens inside a generation's inference mode.
  c10::InferenceMode ordinary_tensors(false);
  torch::NoGradGuard no_grad;
  if (!parks_off_device(policy_, device_)) return;
  expert.on_device = false;
  release_packed_weights(*expert.model);  // a CPU expert's packed copies would keep its weights' memory
  for (at::Tensor& tensor : weights_of(*expert.model)) {
    if (policy_ == IdleExpert::host) {
      at::Tensor host = at::empty(tensor.sizes(), tensor.options().device(at::kCPU).pinned_memory(true));
      host.copy_(tensor);
      tensor.set_data(host);
    } else {
      // Shape-only, as before loading: the memory goes, and a forward on it would fail rather than compute.
      const at::Tensor shape_only = at::empty(tensor.sizes(), tensor.options().device(at::kMeta));
      tensor.unsafeGetTensorImpl()->shallow_copy_from(shape_only.getIntrusivePtr());
    }
  }
  // glibc keeps freed heap memory for reuse, and its adaptive mmap threshold (raised by the large weights just
  // freed) sends the next expert's weights to the heap too: measured, the process then held 1.2 GB of the
  // 2.6 GB parked at Wan2.1-1.3B widths. Trimming hands the parked expert's pages back before the next loads.
  if (device_.is_cpu()) ::malloc_trim(0);
}

void ExpertResidency::restore(Expert& expert) {
  c10::InferenceMode ordinary_tensors(false);
  torch::NoGradGuard no_grad;
  expert.on_device = true;
  if (policy_ == IdleExpert::host) {
    for (at::Tensor& tensor : weights_of(*expert.model)) tensor.set_data(tensor.to(device_));
    return;
  }
  Model& model = *expert.model;
  io::load_weights(model, io::WeightSource::open_dir(expert.weights_dir),
                   io::DtypeOf([&model, this](const std::string& name) { return model.parameter_dtype(name, dtype_); }),
                   device_);
  // The files hold the full weights: layers stored in FP8 (--weights fp8, fp8-scaled) are stored so again, as at
  // load.
  store_weights_again(model);
}

}  // namespace tessera
