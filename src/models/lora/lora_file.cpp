#include "src/models/lora/lora_file.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <optional>
#include <string_view>

#include "common/check.h"
#include "common/join.h"
#include "src/io/safetensors.h"
#include "src/models/lora/lora_kohya_flux.h"

namespace tessera::lora {
namespace {

constexpr size_t kListed = 12;  // keys listed in one error before "... (N in all)"

// The keys of one module, by role.
struct ModuleKeys {
  std::string down, up, alpha;
};

// The original Wan module inside a block -> diffusers' (WanTransformer3DModel), as
// _convert_non_diffusers_wan_lora_to_diffusers maps them.
const std::map<std::string, std::string, std::less<>>& wan_block_modules() {
  static const std::map<std::string, std::string, std::less<>> modules = {
      {"self_attn.q", "attn1.to_q"},           {"self_attn.k", "attn1.to_k"},
      {"self_attn.v", "attn1.to_v"},           {"self_attn.o", "attn1.to_out.0"},
      {"cross_attn.q", "attn2.to_q"},          {"cross_attn.k", "attn2.to_k"},
      {"cross_attn.v", "attn2.to_v"},          {"cross_attn.o", "attn2.to_out.0"},
      {"cross_attn.k_img", "attn2.add_k_proj"}, {"cross_attn.v_img", "attn2.add_v_proj"},
      {"ffn.0", "ffn.net.0.proj"},             {"ffn.2", "ffn.net.2"}};
  return modules;
}

const std::map<std::string, std::string, std::less<>>& wan_top_modules() {
  static const std::map<std::string, std::string, std::less<>> modules = {
      {"time_projection.1", "condition_embedder.time_proj"},
      {"head.head", "proj_out"},
      {"text_embedding.0", "condition_embedder.text_embedder.linear_1"},
      {"text_embedding.2", "condition_embedder.text_embedder.linear_2"},
      {"time_embedding.0", "condition_embedder.time_embedder.linear_1"},
      {"time_embedding.2", "condition_embedder.time_embedder.linear_2"},
      {"img_emb.proj.1", "condition_embedder.image_embedder.ff.net.0.proj"},
      {"img_emb.proj.3", "condition_embedder.image_embedder.ff.net.2"}};
  return modules;
}

// "blocks.3.self_attn.q" -> "blocks.3.attn1.to_q"; nullopt for a module the conversion does not know.
std::optional<std::string> diffusers_wan_module(std::string_view original) {
  if (original.starts_with("blocks.")) {
    const auto dot = original.find('.', 7);
    if (dot == std::string_view::npos || dot == 7) return std::nullopt;
    const std::string_view index = original.substr(7, dot - 7);
    if (index.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    const auto found = wan_block_modules().find(original.substr(dot + 1));
    if (found == wan_block_modules().end()) return std::nullopt;
    return std::string(original.substr(0, dot + 1)) + found->second;
  }
  const auto found = wan_top_modules().find(original);
  if (found == wan_top_modules().end()) return std::nullopt;
  return found->second;
}

bool strip_suffix(std::string_view& text, std::string_view suffix) {
  if (!text.ends_with(suffix)) return false;
  text.remove_suffix(suffix.size());
  return true;
}

// PEFT's adapter config, as diffusers' save_lora_weights stores it in the file's metadata ("transformer.r",
// "transformer.lora_alpha", ...). The lora_alpha it gives, when it gives one; refuses what it cannot honour.
std::optional<double> metadata_alpha(const io::SafetensorsFile& file) {
  const auto found = file.metadata().find("lora_adapter_metadata");
  if (found == file.metadata().end()) return std::nullopt;
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(found->second);
  } catch (const nlohmann::json::exception& error) {
    TESSERA_CHECK(false, file.path(), ": its metadata \"lora_adapter_metadata\" is not JSON: ", error.what());
  }
  TESSERA_CHECK(config.is_object(), file.path(), ": its metadata \"lora_adapter_metadata\" is not a JSON object");
  auto truthy = [&](const char* key) {
    const auto value = config.find(std::string("transformer.") + key);
    return value != config.end() && !value->is_null() && *value != false;
  };
  TESSERA_CHECK(!truthy("use_dora"), file.path(), ": a DoRA adapter (use_dora); tessera fuses plain LoRA only");
  TESSERA_CHECK(!truthy("lora_bias"), file.path(), ": an adapter with a bias term (lora_bias); tessera fuses plain "
                                                   "LoRA only");
  const auto pattern = config.find("transformer.alpha_pattern");
  TESSERA_CHECK(pattern == config.end() || pattern->is_null() || pattern->empty(), file.path(),
                ": per-module alphas (alpha_pattern) in lora_adapter_metadata are not supported; give the alphas as "
                "\"transformer.<module>.alpha\" tensors instead");
  const auto alpha = config.find("transformer.lora_alpha");
  if (alpha == config.end() || alpha->is_null()) return std::nullopt;
  TESSERA_CHECK(alpha->is_number(), file.path(), ": lora_adapter_metadata's transformer.lora_alpha is not a number");
  return alpha->get<double>();
}

double alpha_value(const io::SafetensorsFile& file, const std::string& key) {
  const io::TensorInfo& info = file.info(key);
  TESSERA_CHECK(info.numel() == 1 && c10::isFloatingType(info.dtype), file.path(), ": ", key,
                " must be one floating-point number (the LoRA's alpha)");
  const double alpha = file.load(key, at::kDouble).item<double>();
  TESSERA_CHECK(std::isfinite(alpha), file.path(), ": ", key, " is ", alpha);
  return alpha;
}

}  // namespace

const char* format_name(LoraFormat format) {
  switch (format) {
    case LoraFormat::wan_original: return "original Wan (diffusion_model.*)";
    case LoraFormat::kohya_flux: return "kohya FLUX (lora_unet_*)";
    case LoraFormat::diffusers: break;
  }
  return "diffusers/PEFT (transformer.*)";
}

LoraFile read_lora_file(const std::string& path) {
  const io::SafetensorsFile file(path);
  const std::vector<std::string> names = file.names();
  TESSERA_CHECK(!names.empty(), path, " holds no tensors; a LoRA file holds lora_A/lora_B (or lora_down/lora_up) "
                                      "pairs");
  LoraFile lora{.path = path, .format = LoraFormat::diffusers, .layers = {}};
  // diffusers' own tests: any "diffusion_model." key makes it the original Wan format (Wan's loader); any
  // ".lora_down.weight" key otherwise, kohya's (FLUX's loader).
  for (const auto& name : names) {
    if (name.starts_with("diffusion_model.")) lora.format = LoraFormat::wan_original;
  }
  for (const auto& name : names) {
    if (lora.format == LoraFormat::diffusers && name.find(".lora_down.weight") != std::string::npos) {
      lora.format = LoraFormat::kohya_flux;
    }
  }
  const bool wan = lora.format == LoraFormat::wan_original;
  const bool kohya = lora.format == LoraFormat::kohya_flux;
  const bool down_up = wan || kohya;  // lora_down / lora_up (trainers' names) besides PEFT's lora_A / lora_B
  const std::string_view prefix = wan ? "diffusion_model." : kohya ? "lora_unet_" : "transformer.";

  std::map<std::string, ModuleKeys> modules;
  std::map<std::string, std::vector<std::string>> targets;  // module (targets joined by '+') -> targets
  std::vector<std::string> unplaced;
  for (const auto& name : names) {
    std::string_view key = name;
    if (!key.starts_with(prefix)) {
      unplaced.push_back(name);
      continue;
    }
    if (!kohya) key.remove_prefix(prefix.size());
    std::string ModuleKeys::*role = nullptr;
    if ((!kohya && strip_suffix(key, ".lora_A.weight")) || (down_up && strip_suffix(key, ".lora_down.weight"))) {
      role = &ModuleKeys::down;
    } else if ((!kohya && strip_suffix(key, ".lora_B.weight")) || (down_up && strip_suffix(key, ".lora_up.weight"))) {
      role = &ModuleKeys::up;
    } else if (strip_suffix(key, ".alpha")) {
      role = &ModuleKeys::alpha;
    }
    std::optional<std::vector<std::string>> found;
    if (role != nullptr) {
      if (wan) {
        if (auto module = diffusers_wan_module(key)) found = std::vector<std::string>{*module};
      } else if (kohya) {
        found = kohya_flux_targets(key);
      } else if (!key.empty()) {
        found = std::vector<std::string>{std::string(key)};
      }
    }
    const std::string module = found ? join(*found, "+") : std::string();
    if (!found || !(modules[module].*role).empty()) {
      unplaced.push_back(name);
      continue;
    }
    modules[module].*role = name;
    targets[module] = *found;
  }
  TESSERA_CHECK(unplaced.empty(), path, " (", format_name(lora.format), " LoRA format) has ", unplaced.size(),
                " key(s) tessera cannot place: ", join_first(unplaced, kListed),
                ". It fuses lora_A/lora_B (lora_down/lora_up) pairs of the transformer's linear layers, with "
                "optional alphas; text-encoder LoRAs, bias and DoRA terms, norm diffs and other key formats are not "
                "supported (docs/lora.md)");

  const std::optional<double> config_alpha = metadata_alpha(file);
  std::vector<std::string> unpaired, with_alpha, without_alpha, bad_shapes;
  for (const auto& [module, keys] : modules) {
    if (keys.down.empty() || keys.up.empty()) {
      unpaired.push_back(keys.down.empty() ? (keys.up.empty() ? keys.alpha : keys.up) : keys.down);
      continue;
    }
    (keys.alpha.empty() ? without_alpha : with_alpha).push_back(module);
    const io::TensorInfo& down = file.info(keys.down);
    const io::TensorInfo& up = file.info(keys.up);
    if (down.shape.size() != 2 || up.shape.size() != 2 || down.shape[0] != up.shape[1] || down.shape[0] < 1 ||
        !c10::isFloatingType(down.dtype) || !c10::isFloatingType(up.dtype)) {
      bad_shapes.push_back(detail::concat(module, " (", keys.down, " [", join(down.shape, ", "), "], ", keys.up,
                                          " [", join(up.shape, ", "), "])"));
    }
  }
  TESSERA_CHECK(unpaired.empty(), path, ": ", unpaired.size(), " module(s) lack their lora_A or lora_B half: ",
                join_first(unpaired, kListed), "; every adapted module needs both");
  TESSERA_CHECK(bad_shapes.empty(), path, ": ", bad_shapes.size(), " module(s) are not a rank-r pair of "
                "floating-point matrices (lora_A [r, in], lora_B [out, r]): ", join_first(bad_shapes, kListed, "; "));
  // diffusers gives a module without an alpha, in a file that has some, the commonest alpha of the others;
  // that is a trap, not a format, so a file gives every module an alpha or none (the Wan format folds each one
  // into its own module, so there a mix is what trainers publish).
  TESSERA_CHECK(wan || kohya || with_alpha.empty() || without_alpha.empty(), path, ": ", with_alpha.size(),
                " module(s) have an alpha but ", without_alpha.size(), " do not (", join_first(without_alpha, 4),
                "); give every module its \"transformer.<module>.alpha\" or none");
  TESSERA_CHECK(with_alpha.empty() || !config_alpha, path, ": alphas both as tensors and in lora_adapter_metadata; "
                                                           "give one (diffusers refuses both as well)");

  for (const auto& [module, keys] : modules) {
    LoraLayer layer{.module = module, .targets = targets.at(module), .source = keys.down,
                    .down = file.load(keys.down), .up = file.load(keys.up)};
    const double rank = static_cast<double>(layer.down.size(0));
    if (!keys.alpha.empty()) {
      layer.factor = alpha_value(file, keys.alpha) / rank;
    } else if (config_alpha) {
      layer.factor = *config_alpha / rank;
    }
    lora.layers.push_back(std::move(layer));
  }
  return lora;
}

}  // namespace tessera::lora
