#pragma once
// kohya's (sd-scripts) FLUX LoRA names -> diffusers' FluxTransformer2DModel modules, as diffusers 0.42.1's
// _convert_kohya_flux_lora_to_diffusers maps the transformer blocks. Torch-free.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lora {

// "lora_unet_double_blocks_3_img_attn_qkv" -> {"transformer_blocks.3.attn.to_q", ".to_k", ".to_v"};
// nullopt for a name outside the blocks' linear layers (the embedders, final_layer, text encoders).
std::optional<std::vector<std::string>> kohya_flux_targets(std::string_view name);

}  // namespace tessera::lora
