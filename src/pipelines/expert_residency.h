#pragma once
// Where a pipeline's idle transformers wait. Wan2.2 A14B's two experts take turns (the high-noise one for the
// first steps, the low-noise one for the rest), so only the one running needs its weights where it runs: the
// other waits in host memory (a GPU run) or is dropped and read again from its files when its turn comes (a CPU
// run, where host memory is the device memory). One transformer: nothing ever waits.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Model;

enum class IdleExpert {
  resident,  // every expert keeps its weights on the device (the fastest switch, the most memory)
  host,      // the idle expert's weights are copied to host memory (pinned on CUDA) and back at its turn
  reload,    // the idle expert's weights are dropped and read again from its safetensors at its turn
};

// "resident", "host" or "reload"; "auto" gives host on a GPU and reload on the CPU, or resident when the
// weights were changed after loading (`weights_edited`: fused LoRAs, which a reload would drop). Anything else,
// or reload with edited weights, throws tessera::Error naming the choices.
IdleExpert parse_idle_expert(const std::string& text, c10::Device device, bool weights_edited);
const char* idle_expert_name(IdleExpert policy);

class ExpertResidency {
 public:
  ExpertResidency(IdleExpert policy, c10::Device device, c10::ScalarType dtype);

  IdleExpert policy() const { return policy_; }
  // `model`, just loaded from `weights_dir` (its diffusers folder) in the residency's dtype on its device: it
  // runs first when `active`, else it is parked at once.
  void add(Model& model, const std::string& weights_dir, bool active);
  // Makes `model` (one added) the one whose weights are on the device: the others are parked first, so that at
  // no time do two experts' weights share the device. Nothing moves when it is already there.
  void activate(Model& model);
  bool on_device(const Model& model) const;

  // The switches so far (activations that moved weights) and the seconds they took.
  int64_t switches() const { return switches_; }
  double switch_seconds() const { return switch_seconds_; }

 private:
  struct Expert {
    Model* model = nullptr;
    std::string weights_dir;
    bool on_device = true;
  };
  Expert& entry(const Model& model);
  bool moves_weights() const;
  void park(Expert& expert);
  void restore(Expert& expert);

  IdleExpert policy_;
  c10::Device device_;
  c10::ScalarType dtype_;
  std::vector<Expert> experts_;
  int64_t switches_ = 0;
  double switch_seconds_ = 0;
};

}  // namespace tessera
