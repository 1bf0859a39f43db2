#include "src/models/wan/wan_transformer.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include <cmath>
#include <utility>

#include "common/check.h"
#include "kernels/modulated_layer_norm.h"
#include "src/models/parameters.h"

namespace tessera {

WanTransformer3DModel::WanTransformer3DModel(WanConfig config) : config_(config) {
  const int64_t dim = config_.inner_dim();
  const auto& patch = config_.patch_size;
  rope_ = register_module("rope", std::make_shared<WanRotaryPosEmbed>(config_.attention_head_dim, patch,
                                                                      config_.rope_max_seq_len));
  patch_embedding_ = register_module(
      "patch_embedding",
      std::make_shared<PatchEmbedding3d>(config_.in_channels, dim, std::array{patch[0], patch[1], patch[2]}));
  condition_embedder_ = register_module(
      "condition_embedder", std::make_shared<WanConditionEmbedder>(dim, config_.freq_dim, config_.text_dim,
                                                                   config_.image_dim, config_.pos_embed_seq_len));
  auto blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    blocks_.push_back(std::make_shared<WanTransformerBlock>(dim, config_.ffn_dim, config_.num_attention_heads,
                                                            config_.cross_attn_norm, config_.eps,
                                                            config_.added_kv_proj_dim));
    blocks->push_back(blocks_.back());
  }
  norm_out_ = register_module("norm_out", std::make_shared<Fp32LayerNorm>(dim, config_.eps, false));
  proj_out_ = register_module("proj_out", std::make_shared<Linear>(
                                              dim, config_.out_channels * patch[0] * patch[1] * patch[2]));
  scale_shift_table_ = register_parameter("scale_shift_table", normal_parameter({1, 2, dim}, 1.0 / std::sqrt(dim)));
}

ModelCapabilities WanTransformer3DModel::capabilities() const {
  ModelCapabilities declared;
  declared.supports_cache = true;
  // diffusers' _cp_plan for Wan: the sequence is split once at the rope output and the first block's input,
  // per-token timesteps with it, and gathered at proj_out.
  for (const auto& [path, action] : describe_plan(context_parallel_plan())) declared.cp_plan.push_back({path, action});
  declared.no_split_modules = {"WanTransformerBlock"};
  declared.repeated_blocks = {"WanTransformerBlock"};
  declared.dtypes = {"float32", "bfloat16", "float16"};
  declared.inputs = {"hidden_states", "timestep", "encoder_hidden_states"};
  if (config_.image_conditioned()) declared.inputs.push_back("encoder_hidden_states_image");
  return declared;
}

ContextParallelPlan WanTransformer3DModel::context_parallel_plan() const {
  // diffusers' _cp_plan for Wan: the sequence is split once, at the rotary frequencies and the first block's
  // input (per-token timesteps with it), and gathered at proj_out.
  const ContextParallelInput rotary = {.split_dim = 1, .expected_dims = 4};
  ContextParallelPlan plan;
  plan.push_back({"rope", {.split_inputs = {}, .split_outputs = {{0, rotary}, {1, rotary}}, .gather_outputs = {}}});
  plan.push_back({"blocks.0",
                  {.split_inputs = {{"hidden_states", {.split_dim = 1, .expected_dims = 3}}},
                   .split_outputs = {},
                   .gather_outputs = {}}});
  plan.push_back({"proj_out", {.split_inputs = {},
                               .split_outputs = {},
                               .gather_outputs = {{0, {.gather_dim = 1, .expected_dims = 3}}}}});
  // Per-token timesteps [batch, tokens] (Wan 2.2) follow the sequence; a [batch] timestep has 1 dim and stays.
  plan.push_back({"", {.split_inputs = {{"timestep", {.split_dim = 1, .expected_dims = 2}}},
                       .split_outputs = {},
                       .gather_outputs = {}}});
  return plan;
}

c10::ScalarType WanTransformer3DModel::parameter_dtype(const std::string& name, c10::ScalarType dtype) const {
  // diffusers' _keep_in_fp32_modules: rope, time_embedder, scale_shift_table, norm1/2/3.
  const bool keep_fp32 = name.find("time_embedder.") != std::string::npos ||
                         name.find("scale_shift_table") != std::string::npos ||
                         name.find(".norm1.") != std::string::npos || name.find(".norm2.") != std::string::npos ||
                         name.find(".norm3.") != std::string::npos;
  return keep_fp32 ? at::kFloat : dtype;
}

Outputs WanTransformer3DModel::forward_impl(Args& args) {
  const at::Tensor& input = args.tensor("hidden_states");
  at::Tensor timestep = args.tensor("timestep");
  const at::Tensor& text = args.tensor("encoder_hidden_states");
  TESSERA_CHECK(input.dim() == 5 && input.size(1) == config_.in_channels, kClassName,
                " takes hidden_states [batch, ", config_.in_channels, ", frames, height, width], got ", input.sizes());
  TESSERA_CHECK(text.dim() == 3 && text.size(0) == input.size(0) && text.size(2) == config_.text_dim, kClassName,
                " takes encoder_hidden_states [", input.size(0), ", length, ", config_.text_dim, "], got ", text.sizes());
  const auto& patch = config_.patch_size;
  const int64_t batch = input.size(0);
  const int64_t frames = input.size(2) / patch[0], height = input.size(3) / patch[1], width = input.size(4) / patch[2];
  TESSERA_CHECK(frames > 0 && height > 0 && width > 0, kClassName, ": input ", input.sizes(),
                " is smaller than one patch ", patch[0], "x", patch[1], "x", patch[2]);

  const Outputs rotary = (*rope_)({{"hidden_states", input}});
  at::Tensor hidden_states = patch_embedding_->forward(input);

  const bool per_token = timestep.dim() == 2;
  TESSERA_CHECK(timestep.dim() == 1 || per_token, kClassName, " takes timestep [batch] or [batch, tokens], got ",
                timestep.sizes());
  const int64_t timestep_tokens = per_token ? timestep.size(1) : 0;
  if (per_token) timestep = timestep.flatten();
  Args condition_args{{"timestep", timestep}, {"encoder_hidden_states", text}};
  const at::Tensor* image = args.get_if<at::Tensor>("encoder_hidden_states_image");
  TESSERA_CHECK(image != nullptr || !config_.image_conditioned(), kClassName, " with \"image_dim\" ",
                config_.image_dim, " is an image-to-video transformer: it needs encoder_hidden_states_image (the ",
                "image encoder's embeddings)");
  if (image != nullptr) condition_args.set("encoder_hidden_states_image", *image);
  const Outputs conditions = (*condition_embedder_)(std::move(condition_args));
  TESSERA_CHECK(image == nullptr || conditions.at(3).size(0) == batch, kClassName, ": encoder_hidden_states_image ",
                image == nullptr ? c10::IntArrayRef{} : image->sizes(), " does not give one image sequence per sample (",
                batch, config_.pos_embed_seq_len > 0 ? ", two images each" : "", ")");
  at::Tensor temb = conditions.at(0), timestep_proj = conditions.at(1);
  if (per_token) {
    temb = temb.unflatten(0, {-1, timestep_tokens});
    timestep_proj = timestep_proj.unflatten(0, {-1, timestep_tokens}).unflatten(2, {6, -1});
  } else {
    timestep_proj = timestep_proj.unflatten(1, {6, -1});
  }

  for (const auto& block : blocks_) {
    Args block_args{{"hidden_states", hidden_states},
                    {"encoder_hidden_states", conditions.at(2)},
                    {"temb", timestep_proj},
                    {"freqs_cos", rotary.at(0)},
                    {"freqs_sin", rotary.at(1)}};
    if (image != nullptr) block_args.set("encoder_hidden_states_image", conditions.at(3));
    hidden_states = (*block)(std::move(block_args)).at(0);
  }

  const auto shift_scale = per_token ? (scale_shift_table_.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, 2)
                                     : (scale_shift_table_ + temb.unsqueeze(1)).chunk(2, 1);
  const at::Tensor shift = per_token ? shift_scale[0].squeeze(2) : shift_scale[0];
  const at::Tensor scale = per_token ? shift_scale[1].squeeze(2) : shift_scale[1];
  // norm_out (no parameters) and its modulation in one kernel, fp32 and cast once as diffusers does.
  hidden_states = modulated_layer_norm(hidden_states, scale, shift, config_.eps, Rounding::once);
  hidden_states = (*proj_out_)({{"hidden_states", hidden_states}}).at(0);

  // Unpatchify: [B, F*H*W, pt*ph*pw*C] -> [B, C, F*pt, H*ph, W*pw].
  const at::Tensor sample = hidden_states.reshape({batch, frames, height, width, patch[0], patch[1], patch[2], -1})
                                .permute({0, 7, 1, 4, 2, 5, 3, 6})
                                .flatten(6, 7)
                                .flatten(4, 5)
                                .flatten(2, 3);
  return {sample};
}

}  // namespace tessera
