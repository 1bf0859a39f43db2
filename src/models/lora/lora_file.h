#pragma once
// A LoRA file read into diffusers' module names, whatever key format it was saved in, as diffusers 0.42.1's
// load_lora_weights converts it (docs/lora.md):
//  - diffusers/PEFT: "transformer.<module>.lora_A.weight" / "lora_B.weight", with optional network alphas
//    ("transformer.<module>.alpha") or PEFT's "lora_adapter_metadata" (r, lora_alpha) in the file's metadata;
//  - the original Wan one, as trainers publish it: "diffusion_model.<Wan module>.lora_down.weight" /
//    "lora_up.weight" (or lora_A / lora_B) with an optional ".alpha", mapped to the diffusers module;
//  - kohya's (sd-scripts) for FLUX: "lora_unet_{double,single}_blocks_<i>_<module>.lora_down.weight" /
//    "lora_up.weight" / ".alpha", the blocks' linear layers (lora_kohya_flux.h).
// Every key is accounted for: one the formats do not know (a text encoder's, a bias or DoRA term, a norm diff)
// is an error listing them all, so nothing of a file is silently left out.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace tessera::lora {

enum class LoraFormat { diffusers, wan_original, kohya_flux };
const char* format_name(LoraFormat format);

// One adapted linear layer: its update is factor * up @ down, added to "<target>.weight". kohya's fused
// projections (FLUX's qkv, a single block's linear1) have several targets: the update's rows are split over
// them in order, each taking as many rows as its weight has (diffusers splits linear1 by FLUX.1's sizes,
// [3072, 3072, 3072, 12288], the same rows).
struct LoraLayer {
  std::string module;                // the targets joined by '+', for messages
  std::vector<std::string> targets;  // diffusers' dotted paths, e.g. "blocks.0.attn1.to_q"
  std::string source;                // the file's key of the down matrix, for errors
  at::Tensor down;     // lora_A: [rank, in_features], as stored
  at::Tensor up;       // lora_B: [out_features, rank], as stored
  double factor = 1.0;  // alpha / rank when the file gives an alpha, else 1 (PEFT's lora_alpha = r)
};

struct LoraFile {
  std::string path;
  LoraFormat format = LoraFormat::diffusers;
  std::vector<LoraLayer> layers;  // sorted by module
};

// Reads and converts `path`. Throws tessera::Error naming the file and listing every key it cannot place.
LoraFile read_lora_file(const std::string& path);

}  // namespace tessera::lora
