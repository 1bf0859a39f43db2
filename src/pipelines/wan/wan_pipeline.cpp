#include "src/pipelines/wan/wan_pipeline.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "common/log.h"
#include "hooks/args.h"
#include "src/models/latent_decoder.h"
#include "src/models/model.h"
#include "src/models/wan/wan_transformer.h"
#include "src/pipelines/pipeline_index.h"
#include "src/schedulers/scheduler.h"

namespace tessera {
namespace {

constexpr const char* kHighNoise = "transformer";
constexpr const char* kLowNoise = "transformer_2";

// model_index.json's boundary_ratio: unset when absent or null (Wan2.1: one transformer for every step).
std::optional<double> boundary_ratio(const PipelineIndex& index) {
  const auto found = index.config.find("boundary_ratio");
  if (found == index.config.end() || found->is_null()) return std::nullopt;
  TESSERA_CHECK(found->is_number(), index.dir, "/model_index.json: boundary_ratio must be a number or null, got ",
                found->dump());
  return found->get<double>();
}

}  // namespace

bool WanPipeline::expands_timesteps(const PipelineIndex& index) {
  const auto found = index.config.find("expand_timesteps");
  if (found == index.config.end() || found->is_null()) return false;
  TESSERA_CHECK(found->is_boolean(), index.dir, "/model_index.json: expand_timesteps must be true or false, got ",
                found->dump());
  return found->get<bool>();
}

void WanPipeline::check_index(const PipelineIndex& index) const {
  expands_timesteps(index);
  const bool high = index.parts.count(kHighNoise) > 0, low = index.parts.count(kLowNoise) > 0;
  if (boundary_ratio(index)) {
    TESSERA_CHECK(high || low, index.dir, "/model_index.json sets boundary_ratio but lists neither a transformer ",
                  "nor a transformer_2; a two-expert folder needs at least one");
  } else {
    // diffusers' WanPipeline then runs `transformer` at every step, and would call a null one.
    TESSERA_CHECK(high, index.dir, "/model_index.json lists no transformer and no boundary_ratio: diffusers' "
                  "WanPipeline would run the missing transformer at every step; add the transformer, or the "
                  "boundary_ratio that puts every step on transformer_2");
  }
}

std::string WanPipeline::transformer_class() const { return WanTransformer3DModel::kClassName; }

std::vector<std::string> WanPipeline::transformer_parts(const PipelineIndex& index) const {
  const bool high = index.parts.count(kHighNoise) > 0, low = index.parts.count(kLowNoise) > 0;
  if (!boundary_ratio(index)) {
    // diffusers loads it but never calls it: every step runs `transformer` without a boundary.
    if (low) TESSERA_LOG_INFO(index.dir, ": transformer_2 is not loaded, as model_index.json gives no boundary_ratio");
    return {kHighNoise};
  }
  std::vector<std::string> parts;
  if (high) parts.emplace_back(kHighNoise);
  if (low) parts.emplace_back(kLowNoise);
  return parts;
}

bool WanPipeline::switches_experts(const PipelineIndex& index) const { return boundary_ratio(index).has_value(); }

Pipeline::LatentLayout WanPipeline::wan_layout(const PipelineIndex& index, int64_t extra_channels,
                                              const std::string& extra_what) {
  if (const auto ratio = boundary_ratio(index)) {
    boundary_ratio_ = *ratio;
    boundary_timestep_ = static_cast<float>(*ratio * scheduler_->num_train_timesteps());
  }
  const auto& first = transformers_.front();
  auto* wan = dynamic_cast<WanTransformer3DModel*>(first.model.get());
  TESSERA_INTERNAL_ASSERT(wan != nullptr, "the transformer folder's class was checked");
  const auto& config = wan->config();
  const int64_t channels = config.in_channels - extra_channels;
  TESSERA_CHECK(channels == decoder_->latent_channels() && config.out_channels == decoder_->latent_channels(),
                "the transformer in ", index.part_dir(first.part), " takes ", config.in_channels, " channels",
                extra_channels > 0 ? " (with " + std::to_string(extra_channels) + " " + extra_what + ")" : "",
                " and gives ", config.out_channels, ", but the decoder reads ", decoder_->latent_channels());
  // The experts denoise the same latents in turn.
  for (const auto& expert : transformers_) {
    const auto& other = dynamic_cast<const WanTransformer3DModel&>(*expert.model).config();
    TESSERA_CHECK(other.in_channels == config.in_channels && other.out_channels == config.out_channels &&
                      other.patch_size == config.patch_size,
                  "the experts of ", index.dir, " differ: ", index.part_dir(expert.part), " takes ", other.in_channels,
                  " channels, gives ", other.out_channels, " with patch ", other.patch_size[0], "x",
                  other.patch_size[1], "x", other.patch_size[2], ", ", index.part_dir(first.part), " ",
                  config.in_channels, ", ", config.out_channels, " with ", config.patch_size[0], "x",
                  config.patch_size[1], "x", config.patch_size[2]);
  }
  expand_timesteps_ = expands_timesteps(index);
  // diffusers takes every second latent row and column of its frame mask as the tokens' timesteps.
  TESSERA_CHECK(!expand_timesteps_ || (config.patch_size[0] == 1 && config.patch_size[1] == 2 &&
                                       config.patch_size[2] == 2),
                index.dir, "/model_index.json sets expand_timesteps, which gives a timestep per patch of 1x2x2 (as ",
                "Wan2.2 TI2V's transformer has), but the transformer's patch is ", config.patch_size[0], "x",
                config.patch_size[1], "x", config.patch_size[2]);
  return {.channels = channels,
          .size_multiple = decoder_->spatial_scale() * std::max(config.patch_size[1], config.patch_size[2])};
}

at::Tensor WanPipeline::transformer_timesteps(const at::Tensor& latents, double timestep,
                                              bool first_frame_held) const {
  const auto options = latents.options().dtype(at::kFloat);
  const int64_t batch = latents.size(0);
  if (!expand_timesteps_) return at::full({batch}, timestep, options);
  at::Tensor per_token = at::full({latents.size(2), latents.size(3) / 2, latents.size(4) / 2}, timestep, options);
  if (first_frame_held) per_token[0].zero_();
  return per_token.flatten().unsqueeze(0).expand({batch, -1});
}

void WanPipeline::prepare_inputs(DenoiseInputs& inputs, const Generation& /*generation*/,
                                 const PromptEmbeddings& /*text*/, const at::Tensor& /*noise*/) const {
  if (!expand_timesteps_) return;
  inputs.predict = [this](Model& model, const at::Tensor& latents, double timestep, const at::Tensor& text) {
    return model(transformer_args(latents, latents, timestep, text, /*first_frame_held=*/false)).at(0);
  };
}

Args WanPipeline::transformer_args(const at::Tensor& hidden_states, const at::Tensor& latents, double timestep,
                                   const at::Tensor& text, bool first_frame_held) const {
  return Args{{"hidden_states", hidden_states},
              {"timestep", transformer_timesteps(latents, timestep, first_frame_held)},
              {"encoder_hidden_states", text}};
}

Pipeline::LatentLayout WanPipeline::prepare(const PipelineIndex& index) { return wan_layout(index, 0, ""); }

bool WanPipeline::high_noise(double timestep) const {
  // diffusers compares the schedule's timestep (int64 or float32) with the boundary as a Python float, which
  // torch does in float32.
  return static_cast<float>(timestep) >= *boundary_timestep_;
}

void WanPipeline::check_request(const GenerationRequest& /*request*/, const Generation& generation) const {
  if (!boundary_timestep_ || transformers_.size() == 2) return;
  // One expert of two: diffusers' WanPipeline calls the missing one, and fails, at the first step on its side of
  // the boundary. Refused here, before any step. The loop sets the schedule again.
  scheduler_->set_timesteps(generation.steps);
  const at::Tensor timesteps = scheduler_->timesteps().to(at::kDouble);
  for (int64_t step = 0; step < generation.steps; ++step) {
    const double timestep = timesteps[step].item<double>();
    const bool high = high_noise(timestep);
    const char* part = high ? kHighNoise : kLowNoise;
    TESSERA_CHECK(transformer_of(part) != nullptr, dir_, " has no ", part, " (null in model_index.json), but step ",
                  step + 1, " of ", generation.steps, " is at timestep ", timestep, ", ",
                  high ? "at or above" : "below", " the boundary ", *boundary_timestep_,
                  " (boundary_ratio ", boundary_ratio_, " x ", scheduler_->num_train_timesteps(),
                  " training timesteps), where the ", part, " expert denoises; use a folder with both experts, or ",
                  "a boundary_ratio that puts every step on the side of the expert it has");
  }
}

StepModel WanPipeline::step_model(const Generation& generation, double timestep) const {
  if (!boundary_timestep_) return Pipeline::step_model(generation, timestep);
  const bool high = high_noise(timestep);
  Model* expert = transformer_of(high ? kHighNoise : kLowNoise);
  TESSERA_INTERNAL_ASSERT(expert != nullptr, "check_request refuses a schedule that needs a missing expert");
  TESSERA_INTERNAL_ASSERT(generation.guidance_scale_2.has_value(), "resolve sets guidance_scale_2 with a boundary");
  return {.model = expert,
          .guidance_scale = high ? generation.guidance_scale : *generation.guidance_scale_2};
}

}  // namespace tessera
