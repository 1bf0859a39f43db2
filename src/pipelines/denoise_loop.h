#pragma once
// The denoising loop of a text-to-video pipeline, from latents and precomputed text embeddings to the final
// latents: for each timestep of the scheduler, the model's prediction (with classifier-free guidance when
// asked), then scheduler.step. The step caches are driven from here: the timestep before each step, and the
// "cond" / "uncond" context around each branch.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

class Communicator;
class Model;
class Scheduler;

// How the two guidance branches run on one rank.
enum class GuidanceMode {
  automatic,   // batch when the enabled cache is FasterCache (its hooks split the batch), else sequential
  sequential,  // two forwards, "cond" then "uncond", each in its own cache context (diffusers' WanPipeline)
  batch,       // one forward on [uncond, cond] concatenated on dim 0, in the cache context "cond_uncond"
};
// "auto", "sequential", "batch"; anything else is an error naming the choices.
GuidanceMode parse_guidance_mode(const std::string& name);

// Throws tessera::Error unless `scale` is a finite number, 0 or more: NaN would fail no comparison and run as
// "no guidance", a negative scale would steer towards the negative prompt.
void check_guidance_scale(double scale);

// The model's prediction for `latents` [B, C, F, H, W] at the scheduler's `timestep`, conditioned on `text`
// [B, L, D]: how a model family takes the loop's state. Wan takes them as they are (the default, predict_as_is);
// FLUX packs the latents into patches with their position ids and adds its pooled text and guidance value
// (flux_inputs.h).
using PredictFunction =
    std::function<at::Tensor(Model& model, const at::Tensor& latents, double timestep, const at::Tensor& text)>;
at::Tensor predict_as_is(Model& model, const at::Tensor& latents, double timestep, const at::Tensor& text);

struct DenoiseInputs {
  at::Tensor latents;                 // [B, C, F, H, W], the starting noise
  at::Tensor prompt_embeds;           // [B, L, D], in the model's dtype
  at::Tensor negative_prompt_embeds;  // [B, L', D]; needed when guidance_scale > 1, else ignored
  PredictFunction predict = predict_as_is;
  // The pipeline's own schedule (FLUX: sigmas from 1 to 1/steps, shifted by `mu` for the image size); empty
  // sigmas: the scheduler's schedule for the number of steps.
  // Initialised ({}), so that callers may list only the tensors in braces without a missing-initializer warning.
  std::vector<double> sigmas{};
  std::optional<double> mu{};
  // What the pipeline makes of the last step's latents before they are returned (Wan2.2 TI2V puts its image's
  // latents back in the first frame); none: returned as they are.
  std::function<at::Tensor(const at::Tensor& latents)> finish{};
};

// One finished step, for progress reports.
struct DenoiseProgress {
  int64_t step = 0;  // 0-based
  int64_t total = 0;
  double timestep = 0;
  double seconds = 0;  // this step's wall time
};

struct DenoiseOptions {
  int steps = 50;
  // Classifier-free guidance when > 1: uncond + scale * (cond - uncond). With one model per step
  // (DenoiseModels), this scale decides whether the two branches run at all (as diffusers' WanPipeline decides
  // from its first guidance_scale), and each step combines them with its StepModel's scale.
  double guidance_scale = 5.0;
  GuidanceMode guidance_mode = GuidanceMode::automatic;
  // The CFG-parallel group (DeviceMesh::cfg()) when it has 2 ranks: this rank runs only its branch and the
  // predictions are combined once per step. Null (or a group of 1) runs both branches here.
  Communicator* cfg_group = nullptr;
  std::function<void(const DenoiseProgress&)> on_step;
};

// The model one step runs, and the scale that combines its two guidance branches.
struct StepModel {
  Model* model = nullptr;
  double guidance_scale = 1.0;
};

// The models of a generation and which one runs each step, chosen by the step's timestep: a pipeline with one
// transformer gives it at every step; Wan2.2 gives its high-noise expert above a boundary and its low-noise one
// below. The loop knows no family: it asks `for_step` and runs what it gets.
struct DenoiseModels {
  std::vector<Model*> models;  // every model a step may get; each one's cache is checked and reset before step 0
  std::function<StepModel(double timestep)> for_step;
};

// Runs `options.steps` steps of `scheduler` (set_timesteps is called here) and returns the final latents, in
// the dtype of `inputs.latents`. The model sees the latents in the dtype of the prompt embeddings. When a cache
// is enabled on a model, it is reset first (each call is a new generation: no reference, residual, counter or
// record of an earlier one is used), and its timestep is set before each step that model runs. Each model keeps
// its own cache: a step caches, and decides, only from the earlier steps of its own model.
at::Tensor denoise(const DenoiseModels& models, Scheduler& scheduler, const DenoiseInputs& inputs,
                   const DenoiseOptions& options);
// One model at every step, with options.guidance_scale.
at::Tensor denoise(Model& model, Scheduler& scheduler, const DenoiseInputs& inputs, const DenoiseOptions& options);

}  // namespace tessera
