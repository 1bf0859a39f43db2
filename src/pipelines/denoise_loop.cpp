#include "src/pipelines/denoise_loop.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cache/enable_cache.h"
#include "cache/text_kv_cache.h"
#include "common/check.h"
#include "kernels/cpu_block_cache.h"
#include "parallel/cfg_parallel.h"
#include "parallel/communicator.h"
#include "src/models/model.h"
#include "src/schedulers/scheduler.h"

namespace tessera {
namespace {

bool faster_cache_enabled(Model& model) {
  return cache_enabled(model) && cache_method_name(cache_session(model)->config()) == "faster_cache";
}

bool any_faster_cache(const std::vector<Model*>& models) {
  return std::any_of(models.begin(), models.end(), [](Model* model) { return faster_cache_enabled(*model); });
}

bool guidance_distilled(Model& model) {
  return std::get<FasterCacheConfig>(cache_session(model)->config()).is_guidance_distilled;
}

void check_embeddings(const at::Tensor& embeddings, const char* name, const at::Tensor& latents) {
  TESSERA_CHECK(embeddings.dim() == 3 && embeddings.size(0) == latents.size(0), name,
                " must be [batch, text length, text dim] with the latents' batch ", latents.size(0), ", got ",
                embeddings.sizes());
}

// Every combination that would run but compute something else than asked is refused here, before step 0.
void validate(const std::vector<Model*>& models, const DenoiseInputs& inputs, const DenoiseOptions& options,
              GuidanceMode mode, bool cfg_parallel) {
  TESSERA_CHECK(!models.empty() && std::find(models.begin(), models.end(), nullptr) == models.end(),
                "the denoising loop needs at least one model, and no null one");
  TESSERA_CHECK(inputs.latents.defined() && inputs.latents.dim() == 5,
                "latents must be [batch, channels, frames, height, width], got ",
                inputs.latents.defined() ? inputs.latents.sizes() : at::IntArrayRef{});
  TESSERA_CHECK(inputs.prompt_embeds.defined(), "prompt_embeds are required");
  check_embeddings(inputs.prompt_embeds, "prompt_embeds", inputs.latents);
  TESSERA_CHECK(options.steps >= 1, "the number of steps must be at least 1, got ", options.steps);
  check_guidance_scale(options.guidance_scale);
  const bool guidance = options.guidance_scale > 1.0;
  if (guidance) {
    TESSERA_CHECK(inputs.negative_prompt_embeds.defined(), "guidance scale ", options.guidance_scale,
                  " (> 1) needs negative_prompt_embeds; provide them, or set the guidance scale to 1 to run the "
                  "conditional branch alone");
    check_embeddings(inputs.negative_prompt_embeds, "negative_prompt_embeds", inputs.latents);
    TESSERA_CHECK(inputs.negative_prompt_embeds.size(2) == inputs.prompt_embeds.size(2),
                  "negative_prompt_embeds have text dim ", inputs.negative_prompt_embeds.size(2),
                  ", prompt_embeds ", inputs.prompt_embeds.size(2), "; both must come from the same text encoder");
  }
  for (Model* model : models) {
    if (!faster_cache_enabled(*model) || guidance_distilled(*model)) continue;
    // Its hooks take the first half of the batch for the unconditional branch.
    TESSERA_CHECK(guidance && mode == GuidanceMode::batch && !cfg_parallel,
                  "faster_cache rebuilds the unconditional branch from the conditional one inside one forward on "
                  "the [uncond, cond] batch: it needs a guidance scale > 1, the batch (or auto) guidance mode and "
                  "--cfg 1");
  }
  if (cfg_parallel) {
    TESSERA_CHECK(guidance, "CFG parallelism (--cfg 2) runs the two guidance branches on two rank groups, but the "
                  "guidance scale is ", options.guidance_scale, " (no guidance); use --cfg 1 or a scale > 1");
    TESSERA_CHECK(mode != GuidanceMode::batch, "the batch guidance mode runs both branches in one forward, which "
                  "CFG parallelism splits across ranks; use --cfg 1 with it, or the sequential mode");
  }
  if (guidance && mode == GuidanceMode::batch) {
    TESSERA_CHECK(inputs.negative_prompt_embeds.size(1) == inputs.prompt_embeds.size(1),
                  "the batch guidance mode concatenates the embeddings, so prompt_embeds (length ",
                  inputs.prompt_embeds.size(1), ") and negative_prompt_embeds (length ",
                  inputs.negative_prompt_embeds.size(1), ") must have the same length; pad them or use the "
                  "sequential mode");
  }
}

void enter_context(Model& model, bool cached, const char* name) {
  if (cached) cache_context(model, name);
}

// The step's model, checked: one of the generation's, with a valid guidance scale.
StepModel step_model(const DenoiseModels& models, double timestep) {
  const StepModel step = models.for_step(timestep);
  TESSERA_CHECK(std::find(models.models.begin(), models.models.end(), step.model) != models.models.end(),
                "the step at timestep ", timestep, " got a model that is not one of the generation's");
  check_guidance_scale(step.guidance_scale);
  return step;
}

}  // namespace

at::Tensor predict_as_is(Model& model, const at::Tensor& latents, double timestep, const at::Tensor& text) {
  const at::Tensor timesteps = at::full({latents.size(0)}, timestep, latents.options().dtype(at::kFloat));
  return model({{"hidden_states", latents}, {"timestep", timesteps}, {"encoder_hidden_states", text}}).at(0);
}

void check_guidance_scale(double scale) {
  TESSERA_CHECK(std::isfinite(scale) && scale >= 0, "the guidance scale must be a finite number, 0 or more (1 runs ",
                "the prompt alone, above 1 adds classifier-free guidance), got ", scale);
}

GuidanceMode parse_guidance_mode(const std::string& name) {
  if (name == "auto") return GuidanceMode::automatic;
  if (name == "sequential") return GuidanceMode::sequential;
  if (name == "batch") return GuidanceMode::batch;
  TESSERA_CHECK(false, "unknown CFG mode '", name, "'; use auto, sequential or batch");
  return GuidanceMode::automatic;
}

at::Tensor denoise(Model& model, Scheduler& scheduler, const DenoiseInputs& inputs, const DenoiseOptions& options) {
  const double scale = options.guidance_scale;
  return denoise({.models = {&model}, .for_step = [&model, scale](double) { return StepModel{&model, scale}; }},
                 scheduler, inputs, options);
}

at::Tensor denoise(const DenoiseModels& models, Scheduler& scheduler, const DenoiseInputs& inputs,
                   const DenoiseOptions& options) {
  const bool cfg_parallel = options.cfg_group != nullptr && options.cfg_group->size() > 1;
  GuidanceMode mode = options.guidance_mode;
  if (mode == GuidanceMode::automatic) {
    mode = any_faster_cache(models.models) ? GuidanceMode::batch : GuidanceMode::sequential;
  }
  validate(models.models, inputs, options, mode, cfg_parallel);
  TESSERA_CHECK(models.for_step != nullptr, "the denoising loop needs a function that gives each step's model");
  const bool guidance = options.guidance_scale > 1.0;
  // A new generation: a reference or residual of the previous one would decide or replace this one's blocks.
  // Every model's cache starts clean, so a model that first runs at a later step (Wan2.2's low-noise expert)
  // starts from nothing, as it would on its own.
  // The text K/V cache's entries too: they hold the last generation's prompts (and its LoRA set's projections).
  for (Model* model : models.models) {
    if (cache_enabled(*model)) reset_cache(*model);
    if (text_kv_cache_enabled(*model)) reset_text_kv_cache(*model);
  }
  const c10::ScalarType model_dtype = inputs.prompt_embeds.scalar_type();

  if (inputs.sigmas.empty()) {
    scheduler.set_timesteps(options.steps, inputs.mu);
  } else {
    TESSERA_CHECK(static_cast<int>(inputs.sigmas.size()) == options.steps, "the pipeline gave ", inputs.sigmas.size(),
                  " sigmas for ", options.steps, " steps");
    scheduler.set_timesteps(inputs.sigmas, inputs.mu);
  }
  const at::Tensor timesteps = scheduler.timesteps().to(at::kDouble);
  at::Tensor latents = inputs.latents;
  const PredictFunction& predict = inputs.predict;
  // The batch mode's [uncond, cond] embeddings are the same at every step: concatenated once per generation.
  const at::Tensor both_embeds = guidance && !cfg_parallel && mode == GuidanceMode::batch
                                     ? at::cat({inputs.negative_prompt_embeds, inputs.prompt_embeds})
                                     : at::Tensor();
  const CpuBlockCacheScope same_blocks_every_step;  // the steps allocate the same large blocks: reuse them
  for (int64_t step = 0; step < options.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    const double t = timesteps[step].item<double>();
    // The same timestep on every rank picks the same model, so cache decisions stay collective.
    const StepModel current = step_model(models, t);
    Model& model = *current.model;
    const bool cached = cache_enabled(model);
    if (cached) {
      set_cache_timestep(model, t);  // PAB and FasterCache decide by the timestep
      // MagCache and SeaCache by the step (SeaCache also by its sigma, as diffusers' pipelines pass it)
      set_cache_step(model, {.index = step, .count = options.steps, .sigma = scheduler.sigmas()[step].item<double>()});
    }
    const at::Tensor input = scheduler.scale_model_input(latents, t).to(model_dtype);
    at::Tensor prediction;
    if (!guidance) {
      enter_context(model, cached, "cond");
      prediction = predict(model, input, t, inputs.prompt_embeds).to(latents.scalar_type());
    } else if (cfg_parallel) {
      const bool conditional = guidance_branch(*options.cfg_group) == GuidanceBranch::conditional;
      enter_context(model, cached, conditional ? "cond" : "uncond");
      const at::Tensor branch =
          predict(model, input, t, conditional ? inputs.prompt_embeds : inputs.negative_prompt_embeds);
      prediction = combine_guidance(*options.cfg_group, branch.to(latents.scalar_type()), current.guidance_scale);
    } else if (mode == GuidanceMode::batch) {
      // Unconditional first, as diffusers concatenates it (and as FasterCache's hooks expect).
      enter_context(model, cached, "cond_uncond");
      const auto both = predict(model, at::cat({input, input}), t, both_embeds)
                            .to(latents.scalar_type())
                            .chunk(2, 0);
      prediction = classifier_free_guidance(both[1], both[0], current.guidance_scale);
    } else {
      enter_context(model, cached, "cond");
      const at::Tensor conditional = predict(model, input, t, inputs.prompt_embeds).to(latents.scalar_type());
      enter_context(model, cached, "uncond");
      const at::Tensor unconditional =
          predict(model, input, t, inputs.negative_prompt_embeds).to(latents.scalar_type());
      prediction = classifier_free_guidance(conditional, unconditional, current.guidance_scale);
    }
    latents = scheduler.step(prediction, t, latents);
    if (options.on_step) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.on_step({step, options.steps, t, seconds});
    }
  }
  return inputs.finish ? inputs.finish(latents) : latents;
}

}  // namespace tessera
