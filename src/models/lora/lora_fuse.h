#pragma once
// LoRAs fused into a loaded model's weights: W' = W + scale * factor * (lora_B @ lora_A), factor = alpha / rank
// when the file gives an alpha, else 1 (diffusers' merge with adapter weight `scale`). Checked in full before any
// weight changes (check_loras).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <string>
#include <vector>

#include "src/models/lora/lora_check.h"
#include "src/models/lora/lora_file.h"
#include "src/models/lora/lora_spec.h"

namespace torch::nn {
class Module;
}

namespace tessera::lora {

// Every spec's file read and converted (read_lora_file), so a bad file stops the run before any model loads.
std::vector<ScaledLora> read_loras(const std::vector<LoraSpec>& specs);

// The weights a fuse changed, as they were before, in host memory: put back exactly by restore_weights (an
// unfuse by subtraction would leave a bf16 weight off by a rounding).
using SavedWeights = std::map<std::string, at::Tensor>;

// Checks, then fuses, `loras` into `model` ("<module>.weight" parameters), whose class `model_name` names in
// errors. The update of each weight is summed over the LoRAs in fp32 on the weight's device and added to the
// weight in fp32, then cast back to the weight's dtype once. Throws tessera::Error, with no weight changed, when
// anything does not match. With `saved`, each weight it changes is first copied there (unless already held).
void fuse_loras(torch::nn::Module& model, const std::vector<ScaledLora>& loras, const std::string& model_name,
                SavedWeights* saved = nullptr);

// Puts the weights in `saved` back into `model` and empties it.
void restore_weights(torch::nn::Module& model, SavedWeights& saved);

// One layer's update in fp32 on `device`: scale * layer.factor * up @ down.
at::Tensor lora_delta(const LoraLayer& layer, double scale, c10::Device device);

}  // namespace tessera::lora
