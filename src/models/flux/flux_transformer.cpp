#include "src/models/flux/flux_transformer.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "common/check.h"

namespace tessera {
namespace {

// diffusers feeds timestep and guidance in [0, 1] (flow-matching sigmas) and embeds them scaled to [0, 1000],
// after rounding them to the model's dtype.
at::Tensor scaled_to_thousand(const at::Tensor& value, c10::ScalarType dtype, const char* name, int64_t batch) {
  TESSERA_CHECK(value.dim() == 1 && value.size(0) == batch, FluxTransformer2DModel::kClassName, " takes ", name,
                " [", batch, "] (one per sample), got ", value.sizes());
  return value.to(dtype) * 1000;
}

void check_ids(const at::Tensor& ids, const char* name, int64_t tokens, int64_t axes, const char* tokens_of) {
  TESSERA_CHECK(ids.dim() == 2 && ids.size(0) == tokens && ids.size(1) == axes, FluxTransformer2DModel::kClassName,
                " takes ", name, " [", tokens, ", ", axes, "] (one row per token of ", tokens_of,
                ", one column per axes_dims_rope entry), got ", ids.sizes(),
                ids.dim() == 3 ? "; drop the batch dimension (diffusers deprecated batched ids)" : "");
}

}  // namespace

FluxTransformer2DModel::FluxTransformer2DModel(FluxConfig config) : config_(std::move(config)) {
  const int64_t dim = config_.inner_dim();
  pos_embed_ = register_module("pos_embed", std::make_shared<FluxPosEmbed>(config_.axes_dims_rope));
  time_text_embed_ = register_module("time_text_embed", std::make_shared<FluxTimeTextEmbedding>(
                                                            dim, config_.pooled_projection_dim, config_.guidance_embeds));
  context_embedder_ = register_module("context_embedder", std::make_shared<Linear>(config_.joint_attention_dim, dim));
  x_embedder_ = register_module("x_embedder", std::make_shared<Linear>(config_.in_channels, dim));
  auto blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    transformer_blocks_.push_back(std::make_shared<FluxTransformerBlock>(dim, config_.num_attention_heads,
                                                                         config_.attention_head_dim));
    blocks->push_back(transformer_blocks_.back());
  }
  auto single_blocks = register_module("single_transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_single_layers; ++i) {
    single_transformer_blocks_.push_back(std::make_shared<FluxSingleTransformerBlock>(
        dim, config_.num_attention_heads, config_.attention_head_dim));
    single_blocks->push_back(single_transformer_blocks_.back());
  }
  norm_out_ = register_module("norm_out", std::make_shared<AdaLayerNormContinuous>(dim, dim));
  proj_out_ = register_module("proj_out", std::make_shared<Linear>(dim, config_.output_channels()));
}

ModelCapabilities FluxTransformer2DModel::capabilities() const {
  ModelCapabilities declared;
  // Both block kinds carry the text and the image stream (block_stack says which output is which), and the
  // caches cache and rebuild both.
  declared.supports_cache = true;
  for (const auto& [path, action] : describe_plan(context_parallel_plan())) declared.cp_plan.push_back({path, action});
  declared.no_split_modules = {"FluxTransformerBlock", "FluxSingleTransformerBlock"};
  declared.repeated_blocks = {"FluxTransformerBlock", "FluxSingleTransformerBlock"};
  declared.dtypes = {"float32", "bfloat16", "float16"};
  declared.inputs = {"hidden_states", "encoder_hidden_states", "pooled_projections", "timestep",
                     "img_ids",       "txt_ids",               "guidance"};
  return declared;
}

std::vector<BlockGroup> FluxTransformer2DModel::block_stack() const {
  const BlockStreams streams{.hidden_states_output = 1, .encoder_hidden_states_output = 0};
  return {{.pattern = "transformer_blocks.*", .streams = streams},
          {.pattern = "single_transformer_blocks.*", .streams = streams}};
}

ContextParallelPlan FluxTransformer2DModel::context_parallel_plan() const {
  // diffusers' _cp_plan for FLUX: image and text tokens, and their position ids with them, are split once at the
  // model's input (so each rank's rotary phases are those of its own tokens), and the image tokens are gathered
  // at proj_out. Every attention in between is sequence-parallel over the joint [text, image] shards.
  const ContextParallelInput tokens{.split_dim = 1, .expected_dims = 3};
  const ContextParallelInput ids{.split_dim = 0, .expected_dims = 2};
  ContextParallelPlan plan;
  plan.push_back({"",
                  {.split_inputs = {{"hidden_states", tokens},
                                    {"encoder_hidden_states", tokens},
                                    {"img_ids", ids},
                                    {"txt_ids", ids}},
                   .split_outputs = {},
                   .gather_outputs = {}}});
  plan.push_back({"proj_out",
                  {.split_inputs = {},
                   .split_outputs = {},
                   .gather_outputs = {{0, {.gather_dim = 1, .expected_dims = 3}}}}});
  return plan;
}

Outputs FluxTransformer2DModel::forward_impl(Args& args) {
  const at::Tensor& input = args.tensor("hidden_states");
  const at::Tensor& text_input = args.tensor("encoder_hidden_states");
  const at::Tensor& pooled = args.tensor("pooled_projections");
  TESSERA_CHECK(input.dim() == 3 && input.size(2) == config_.in_channels, kClassName, " takes hidden_states [batch, ",
                "image tokens, ", config_.in_channels, "] (packed latents), got ", input.sizes());
  const int64_t batch = input.size(0);
  TESSERA_CHECK(text_input.dim() == 3 && text_input.size(0) == batch && text_input.size(2) == config_.joint_attention_dim,
                kClassName, " takes encoder_hidden_states [", batch, ", text tokens, ", config_.joint_attention_dim,
                "], got ", text_input.sizes());
  TESSERA_CHECK(pooled.dim() == 2 && pooled.size(0) == batch && pooled.size(1) == config_.pooled_projection_dim,
                kClassName, " takes pooled_projections [", batch, ", ", config_.pooled_projection_dim, "], got ",
                pooled.sizes());
  const auto axes = static_cast<int64_t>(config_.axes_dims_rope.size());
  const at::Tensor& img_ids = args.tensor("img_ids");
  const at::Tensor& txt_ids = args.tensor("txt_ids");
  check_ids(img_ids, "img_ids", input.size(1), axes, "hidden_states");
  check_ids(txt_ids, "txt_ids", text_input.size(1), axes, "encoder_hidden_states");

  at::Tensor hidden_states = x_embedder_->forward(input);
  const auto dtype = hidden_states.scalar_type();
  Args embedding_args{{"timestep", scaled_to_thousand(args.tensor("timestep"), dtype, "timestep", batch)},
                      {"pooled_projections", pooled}};
  if (const at::Tensor* guidance = args.get_if<at::Tensor>("guidance")) {
    embedding_args.set("guidance", scaled_to_thousand(*guidance, dtype, "guidance", batch));
  }
  const at::Tensor temb = (*time_text_embed_)(std::move(embedding_args)).at(0);
  at::Tensor text = context_embedder_->forward(text_input);
  const Outputs rotary = (*pos_embed_)({{"ids", at::cat({txt_ids, img_ids}, 0)}});

  auto run_block = [&](Module& block) {
    const Outputs streams = block({{"hidden_states", hidden_states},
                                   {"encoder_hidden_states", text},
                                   {"temb", temb},
                                   {"freqs_cos", rotary.at(0)},
                                   {"freqs_sin", rotary.at(1)}});
    text = streams.at(0);
    hidden_states = streams.at(1);
  };
  for (const auto& block : transformer_blocks_) run_block(*block);
  for (const auto& block : single_transformer_blocks_) run_block(*block);

  hidden_states = norm_out_->forward(hidden_states, temb);
  return {(*proj_out_)({{"hidden_states", hidden_states}}).at(0)};
}

}  // namespace tessera
