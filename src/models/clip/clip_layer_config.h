#pragma once
// What one CLIP encoder layer needs, shared by CLIPTextModel (causal) and CLIPVisionModel (bidirectional): each
// model's config gives its layer() and the layers know no model.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace tessera {

enum class ClipActivation { kQuickGelu, kGelu, kGeluTanh };

struct ClipLayerConfig {
  int64_t hidden_size;
  int64_t intermediate_size;
  int64_t num_attention_heads;
  double layer_norm_eps;
  ClipActivation hidden_act;
  bool causal;  // the text model's mask; the vision model's tokens all see each other

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// "hidden_act" of a CLIP config (default "quick_gelu", as transformers'), and "layer_norm_eps" (default 1e-5).
// `what` opens each error ("CLIP text config te/config.json") so it names the model and the file.
ClipActivation clip_activation_from_json(const nlohmann::json& config, const std::string& what);
double clip_layer_norm_eps_from_json(const nlohmann::json& config, const std::string& what);

}  // namespace tessera
