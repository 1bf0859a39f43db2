#include "src/models/lora/lora_kohya_flux.h"

#include <map>

#include "common/check.h"

namespace tessera::lora {
namespace {

using Targets = std::vector<std::string>;

const std::map<std::string, Targets, std::less<>>& double_block_modules() {
  static const std::map<std::string, Targets, std::less<>> modules = {
      {"img_attn_proj", {"attn.to_out.0"}},
      {"img_attn_qkv", {"attn.to_q", "attn.to_k", "attn.to_v"}},
      {"img_mlp_0", {"ff.net.0.proj"}},
      {"img_mlp_2", {"ff.net.2"}},
      {"img_mod_lin", {"norm1.linear"}},
      {"txt_attn_proj", {"attn.to_add_out"}},
      {"txt_attn_qkv", {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"}},
      {"txt_mlp_0", {"ff_context.net.0.proj"}},
      {"txt_mlp_2", {"ff_context.net.2"}},
      {"txt_mod_lin", {"norm1_context.linear"}}};
  return modules;
}

const std::map<std::string, Targets, std::less<>>& single_block_modules() {
  static const std::map<std::string, Targets, std::less<>> modules = {
      {"linear1", {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"}},
      {"linear2", {"proj_out"}},
      {"modulation_lin", {"norm.linear"}}};
  return modules;
}

}  // namespace

std::optional<Targets> kohya_flux_targets(std::string_view name) {
  struct Kind {
    std::string_view prefix, diffusers;
    const std::map<std::string, Targets, std::less<>>& modules;
  };
  for (const Kind& kind : {Kind{"lora_unet_double_blocks_", "transformer_blocks.", double_block_modules()},
                           Kind{"lora_unet_single_blocks_", "single_transformer_blocks.", single_block_modules()}}) {
    if (!name.starts_with(kind.prefix)) continue;
    std::string_view rest = name.substr(kind.prefix.size());
    const auto underscore = rest.find('_');
    if (underscore == std::string_view::npos || underscore == 0) return std::nullopt;
    const std::string_view index = rest.substr(0, underscore);
    if (index.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    const auto found = kind.modules.find(rest.substr(underscore + 1));
    if (found == kind.modules.end()) return std::nullopt;
    Targets targets;
    for (const auto& module : found->second) {
      targets.push_back(detail::concat(kind.diffusers, index, ".", module));
    }
    return targets;
  }
  return std::nullopt;
}

}  // namespace tessera::lora
