#pragma once
// LoRAs applied by hooks on the adapted linear layers instead of fused into their weights: each layer's forward
// becomes W x + b + (x A^T) B^T, with A the down matrices of every LoRA on it stacked by rank and B their up
// matrices side by side, each scaled by scale * factor (PEFT's unfused `result + lora_B(lora_A(x)) * scaling`,
// the scaling folded into B). A and B are kept in the layer's dtype and on its device, as PEFT moves an adapter
// to its base layer's. No weight changes, so removing the hooks gives the base model back bit for bit, and
// switching sets copies no weight. The hook is the layer's forward (innermost of its hooks), so it sees the
// layer's own input and output: a rank's local tokens under context parallelism; a cache that skips a block
// skips its layers' hooks too.
#include <string>
#include <vector>

#include "src/models/lora/lora_check.h"

namespace tessera {
class Module;
}

namespace tessera::lora {

// Checks `loras` against `model` (check_loras: the same errors as fuse_loras, nothing registered when anything
// does not match), then registers one hook on each adapted layer. Refuses a model that has LoRA hooks already:
// remove them first.
void hook_loras(Module& model, const std::vector<ScaledLora>& loras, const std::string& model_name);

// Removes every LoRA hook from `model`; returns how many layers had one.
size_t unhook_loras(Module& model);

}  // namespace tessera::lora
