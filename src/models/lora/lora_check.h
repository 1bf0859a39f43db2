#pragma once
// LoRAs checked against a loaded model's linear layers, the one check both ways of applying them share (fused
// into the weights, lora_fuse.h; hooks on the layers, lora_hooks.h). One error lists every module of every file
// that matches no linear layer ("<module>.weight", 2-D), or matches one of another shape.
#include <cstdint>
#include <string>
#include <vector>

#include "src/models/lora/lora_file.h"

namespace torch::nn {
class Module;
}

namespace tessera::lora {

struct ScaledLora {
  LoraFile file;
  double scale = 1.0;
};

// Where one layer's update goes: rows [row, row + rows) of it to the linear layer at `module` (a fused
// projection's targets stack their rows, lora_kohya_flux.h).
struct LoraTarget {
  std::string module;
  int64_t row = 0, rows = 0;
};

// One adapted layer of one file, checked: its update is scale * layer.factor * up @ down.
struct CheckedLayer {
  const LoraLayer* layer;  // into the ScaledLora it came from, which must outlive this
  double scale = 1.0;
  std::vector<LoraTarget> targets;
};

// Every layer of every LoRA, in order, after checking all of them against `model` (whose class `model_name`
// names in errors). Throws tessera::Error when anything does not match.
std::vector<CheckedLayer> check_loras(torch::nn::Module& model, const std::vector<ScaledLora>& loras,
                                      const std::string& model_name);

}  // namespace tessera::lora
