#pragma once
// `--lora PATH[:SCALE]`: a LoRA file and the weight its update is added with (diffusers' adapter weight,
// set_adapters(..., adapter_weights=...)). Torch-free, so the CLI checks it before anything loads.
#include <string>

namespace tessera::lora {

struct LoraSpec {
  std::string path;
  double scale = 1.0;
  bool operator==(const LoraSpec&) const = default;
};

// "PATH" or "PATH:SCALE". The text after the last ':' is the scale when it is a finite number, so a path that
// holds a ':' still works with an explicit scale ("dir:1/x.safetensors:1"). Throws naming the text for an empty
// path or a scale that is not finite.
LoraSpec parse_lora_spec(const std::string& text);

}  // namespace tessera::lora
