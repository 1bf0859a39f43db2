#pragma once
// Prompt in, frames out: the shared core of every pipeline family. It loads a diffusers-layout folder's parts
// (pipeline_index.h: text encoder, transformer, scheduler, decoder), resolves and checks a request, draws the
// seeded noise, runs the denoising loop (guidance, context parallelism and caches as enabled on each transformer;
// the family says which transformer runs each step) and decodes. A family (WanPipeline, FluxPipeline, the embedded model's TesseraShapesPipeline, ...) is a
// subclass that owns its defaults, its checks, its latent layout and its prediction step, registered under
// model_index.json's "_class_name" (pipeline_registry.h), as diffusers' DiffusionPipeline picks its class.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/models/weight_storage.h"
#include "src/pipelines/denoise_loop.h"
#include "src/pipelines/expert_residency.h"
#include "src/pipelines/generation_request.h"

namespace tessera {

class Communicator;
class LatentDecoder;
class Model;
class Scheduler;
class TextEncoder;
struct PipelineIndex;
struct PromptEmbeddings;

struct PipelineLoadOptions {
  // Where a transformer waits while another runs (expert_residency.h); the first runs first.
  IdleExpert idle_expert = IdleExpert::resident;
  // Whether this rank encodes prompts. A rank that does not loads the text encoder without its weights (its
  // tokenizer checks the prompts) and receives the embeddings from rank 0 of each generation's group, which
  // must encode (generate()).
  bool encodes_text = true;
  // How the transformers keep their weights (--weights): each is cast as soon as it has loaded, before it is
  // parked, so that an idle expert waits in FP8 too.
  WeightStorage weights = WeightStorage::full;
  // The ranks of one generation that share the transformers' weights (--shard-weights, docs/shard_weights.md):
  // each keeps its share of every parameter and gathers each block's from the others just before it runs. Null:
  // every rank holds every weight. Every rank of the group loads the pipeline, and runs every forward together.
  std::shared_ptr<Communicator> shard_group = nullptr;  // an initialiser: designated initialisers may leave it out
};

// One transformer a pipeline denoises with: its part in the folder ("transformer", Wan2.2's "transformer_2") and
// the model.
struct PipelineTransformer {
  std::string part;
  std::shared_ptr<Model> model;
};

class Pipeline {
 public:
  // The family model_index.json names, with its parts loaded and checked. Throws tessera::Error naming the
  // folder, the part and its class for an unknown family or a missing or mismatched part.
  static std::unique_ptr<Pipeline> load(const std::string& dir, c10::ScalarType dtype, c10::Device device,
                                        const PipelineLoadOptions& options = {});
  // What of `request` can be checked against the folder at `dir` from its model_index.json alone (the family's
  // refusals, a second guidance scale for a folder with one transformer, an image given to a text-to-video folder
  // or none to an image-to-video one, an image file that cannot be read), before any part is loaded.
  static void check_folder_request(const std::string& dir, const GenerationRequest& request);
  // The folder's parts that load() loads as transformers (its family's transformer_parts), without loading them
  // or running the family's other checks.
  static std::vector<std::string> transformer_parts_of(const PipelineIndex& index);
  // The folder's defaults (its family's, with model_index.json's "defaults" over them), without loading any part:
  // what a request that leaves a size out gets (the memory check's sizes before loading).
  static GenerationDefaults defaults_of(const PipelineIndex& index);
  virtual ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& class_name() const { return class_name_; }
  // The first transformer loaded; a family with experts has more (transformers()).
  Model& transformer() { return *transformer_; }
  // Every transformer loaded, in the folder's order: whatever is enabled on a pipeline's transformer
  // (parallelism, caches) is enabled on each of them.
  const std::vector<PipelineTransformer>& transformers() const { return transformers_; }
  // Where each transformer's weights are: generate() brings each step's to the device before it runs.
  const ExpertResidency& residency() const { return *residency_; }
  // Whether a request may give guidance_scale_2 (a family that switches experts).
  bool takes_guidance_scale_2() const { return takes_guidance_scale_2_; }
  const GenerationDefaults& defaults() const { return defaults_; }
  TextEncoder& text_encoder() { return *text_encoder_; }

  // Fills what `request` leaves out and checks it all before any work: the prompts' words, the sizes (a
  // multiple of what the model takes; the error names the nearest valid ones), steps and frames.
  Generation resolve(const GenerationRequest& request) const;

  // uint8 [frames, height, width, 3] on the CPU, identical on every rank. `loop` gives the guidance mode,
  // the CFG group and the progress callback; steps and guidance scale come from `generation`. A cache
  // enabled on the transformer is reset first. `decode_group` holds every rank that runs this generation
  // (nullptr: this rank alone): its rank 0 encodes the prompts for all of them, and the decoder splits its work
  // across it.
  at::Tensor generate(const Generation& generation, DenoiseOptions loop, Communicator* decode_group = nullptr);

 protected:
  Pipeline();

  // The latents a transformer denoises, and the multiple of height and width it takes.
  struct LatentLayout {
    int64_t channels = 0;
    int64_t size_multiple = 1;
  };

  // --- what a family says; the core calls these ---
  // diffusers' defaults for this family (model_index.json's "defaults" apply over them).
  virtual GenerationDefaults family_defaults() const { return {}; }
  // Parts or keys of model_index.json that this family does not run, refused before anything loads.
  virtual void check_index(const PipelineIndex& index) const { (void)index; }
  // The transformer class this family denoises with.
  virtual std::string transformer_class() const = 0;
  // The folder's parts that hold the transformers, in order, each checked to be a transformer_class() and loaded
  // (the first becomes transformer_). One model: "transformer"; Wan2.2's experts: the two it lists.
  virtual std::vector<std::string> transformer_parts(const PipelineIndex& index) const {
    (void)index;
    return {"transformer"};
  }
  // Whether the folder switches experts with a guidance scale each (a request may give guidance_scale_2).
  virtual bool switches_experts(const PipelineIndex& index) const {
    (void)index;
    return false;
  }
  // The scheduler this family steps with, checked once it is loaded.
  virtual void check_scheduler(const PipelineIndex& index) const { (void)index; }
  // Once every part is loaded: the latent layout (and whatever the family keeps from its parts).
  virtual LatentLayout prepare(const PipelineIndex& index) = 0;
  // The frame count when the request gives none.
  virtual int64_t default_frames(const GenerationRequest& request) const;
  struct FrameSize {
    int64_t height = 0, width = 0;
  };
  // The frame size when the request gives none (an image-to-video family follows its image's aspect); the
  // images of `generation` are read. Default: defaults().
  virtual FrameSize default_size(const Generation& generation) const;
  // Whether the request's images suit the family: by default none is taken (text to video or image).
  virtual void check_image_request(const GenerationRequest& request) const;
  // The family's own checks of a resolved request (the core has checked what every family shares).
  virtual void check_request(const GenerationRequest& request, const Generation& generation) const {
    (void)request, (void)generation;
  }
  // The loop's classifier-free guidance scale (a guidance-distilled model takes it as an input instead: 1). It
  // decides whether the guidance branches run at all.
  virtual double loop_guidance_scale(const Generation& generation) const { return generation.guidance_scale; }
  // The transformer that denoises the step at `timestep`, and its guidance scale: the core asks it once per step
  // (the same timestep on every rank gives the same answer). Default: the first transformer, with
  // loop_guidance_scale; Wan2.2 picks an expert by the noise level.
  virtual StepModel step_model(const Generation& generation, double timestep) const;
  // The latent layout prepare() gave.
  const LatentLayout& latent_layout() const { return layout_; }
  // The loaded transformer of `part`, or nullptr when the folder has none.
  Model* transformer_of(const std::string& part) const;
  // The family's checks of how the loop is to run (e.g. a CFG-parallel group for a model without guidance).
  virtual void check_loop(const DenoiseOptions& loop) const { (void)loop; }
  // What the loop needs beyond latents and text: the family's schedule and prediction step.
  virtual void prepare_inputs(DenoiseInputs& inputs, const Generation& generation, const PromptEmbeddings& text,
                              const at::Tensor& noise) const {
    (void)inputs, (void)generation, (void)text, (void)noise;
  }

  std::string dir_, class_name_;
  c10::ScalarType dtype_ = c10::ScalarType::Float;
  c10::Device device_{c10::kCPU};
  std::shared_ptr<Model> transformer_;  // transformers_.front()
  std::vector<PipelineTransformer> transformers_;
  std::unique_ptr<TextEncoder> text_encoder_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<LatentDecoder> decoder_;
  GenerationDefaults defaults_;
  // While generate() runs: the ranks that split the VAE's work (its decode_group); null: this rank alone.
  Communicator* vae_group_ = nullptr;

 private:
  void load_parts(const PipelineIndex& index, c10::ScalarType dtype, c10::Device device,
                  const PipelineLoadOptions& options);
  // The prompts' embeddings: encoded here, or on rank 0 of `group` and received (PipelineLoadOptions).
  PromptEmbeddings encode_prompts(const std::vector<std::string>& prompts, Communicator* group);

  LatentLayout layout_;
  std::unique_ptr<ExpertResidency> residency_;
  bool encodes_text_ = true;
  bool takes_guidance_scale_2_ = false;
};

}  // namespace tessera
