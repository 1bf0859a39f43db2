#include "src/pipelines/pipeline.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <optional>
#include <type_traits>

#include "common/check.h"
#include "common/log.h"
#include "parallel/communicator.h"
#include "src/io/image_orientation.h"
#include "src/io/json_integer.h"
#include "src/models/latent_decoder.h"
#include "src/models/load_model.h"
#include "src/models/load_part.h"
#include "src/models/model.h"
#include "src/models/text_encoder.h"
#include "src/pipelines/pipeline_index.h"
#include "src/pipelines/pipeline_parts.h"
#include "src/pipelines/pipeline_registry.h"
#include "src/pipelines/prompt_broadcast.h"
#include "src/schedulers/scheduler.h"
#include "src/schedulers/scheduler_config.h"

namespace tessera {
namespace {

void check_scheduler_class(const PipelineIndex& index, const Scheduler& scheduler) {
  const PipelinePart& listed = index.part("scheduler");
  TESSERA_CHECK(listed.class_name == scheduler.class_name(), index.dir, "/model_index.json says the scheduler is a ",
                listed.class_name, " but ", index.dir, "/scheduler holds a ", scheduler.class_name());
}

GenerationDefaults read_defaults(const PipelineIndex& index, GenerationDefaults defaults) {
  const auto found = index.config.find("defaults");
  if (found == index.config.end()) return defaults;
  const std::string where = index.dir + "/model_index.json \"defaults\"";
  TESSERA_CHECK(found->is_object(), where, " must be an object, got ", found->dump());
  const nlohmann::json& json = *found;
  // Sizes and counts are checked before narrowing; their meaning (a multiple of the patch, ...) by resolve().
  auto integer = [&](const char* key, auto& target, int64_t min) {
    using Int = std::remove_reference_t<decltype(target)>;
    const auto value = json.find(key);
    if (value != json.end()) target = io::json_integer<Int>(*value, where + " \"" + key + "\"", min);
  };
  integer("height", defaults.height, 1);
  integer("width", defaults.width, 1);
  integer("frames", defaults.frames, 1);
  integer("steps", defaults.steps, 1);
  try {
    defaults.guidance_scale = json.value("guidance_scale", defaults.guidance_scale);
    defaults.negative_prompt = json.value("negative_prompt", defaults.negative_prompt);
  } catch (const nlohmann::json::exception& error) {
    TESSERA_CHECK(false, where, " has a value of the wrong type: ", error.what());
  }
  return defaults;
}

void check_size(const char* name, int64_t value, int64_t multiple) {
  if (value >= multiple && value % multiple == 0) return;
  const int64_t below = std::max(multiple, value / multiple * multiple);
  const int64_t above = below < value ? below + multiple : below;
  TESSERA_CHECK(false, "--", name, " ", value, " is not a multiple of ", multiple,
                " (the decoder's scale times the transformer's patch); the nearest valid values are ", below,
                below == above ? "" : " and " + std::to_string(above));
}

// A second guidance scale is the low-noise expert's: a folder that denoises with one transformer has no use for
// it, and diffusers' WanPipeline refuses it too (check_inputs) rather than ignore it.
void check_guidance_scale_2_taken(const std::string& class_name, const std::string& dir, bool taken,
                                  const GenerationRequest& request) {
  TESSERA_CHECK(taken || !request.guidance_scale_2, "--guidance-scale-2 (guidance_scale_2) is the low-noise expert's "
                "guidance scale of a two-expert folder (Wan2.2 A14B: transformer_2 and boundary_ratio in "
                "model_index.json), but the ", class_name, " in ", dir, " denoises with one transformer; leave it "
                "out and use --guidance-scale");
}

// One image of a request, read as diffusers.utils.load_image reads it (EXIF orientation applied), once it passed
// the family's checks.
std::shared_ptr<const io::FrameBuffer> read_request_image(const std::optional<std::string>& path) {
  if (!path) return nullptr;
  return std::make_shared<const io::FrameBuffer>(io::load_image(*path));
}

}  // namespace

Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;

std::unique_ptr<Pipeline> Pipeline::load(const std::string& dir, c10::ScalarType dtype, c10::Device device,
                                         const PipelineLoadOptions& options) {
  const PipelineIndex index = read_pipeline_index(dir);
  std::unique_ptr<Pipeline> pipeline = make_pipeline(index);
  pipeline->load_parts(index, dtype, device, options);
  return pipeline;
}

std::vector<std::string> Pipeline::transformer_parts_of(const PipelineIndex& index) {
  // No check_index: a folder the family refuses to run (Wan2.2 TI2V) can still have its transformer described.
  return make_pipeline(index)->transformer_parts(index);
}

GenerationDefaults Pipeline::defaults_of(const PipelineIndex& index) {
  return read_defaults(index, make_pipeline(index)->family_defaults());
}

void Pipeline::check_folder_request(const std::string& dir, const GenerationRequest& request) {
  const PipelineIndex index = read_pipeline_index(dir);
  const std::unique_ptr<Pipeline> family = make_pipeline(index);
  family->check_index(index);
  check_guidance_scale_2_taken(index.class_name, index.dir, family->switches_experts(index), request);
  family->dir_ = index.dir;
  family->class_name_ = index.class_name;
  family->check_image_request(request);
  // A missing or unreadable file is named now rather than after the parts have loaded.
  read_request_image(request.image);
  read_request_image(request.last_image);
}

void Pipeline::check_image_request(const GenerationRequest& request) const {
  const char* flag = request.image ? "--image (image)" : "--last-image (last_image)";
  TESSERA_CHECK(!request.image && !request.last_image, flag, " conditions an image-to-video folder ",
                "(WanImageToVideoPipeline in model_index.json), but the ", class_name_, " in ", dir_,
                " generates from the prompt alone; leave it out, or use an image-to-video folder");
}

Pipeline::FrameSize Pipeline::default_size(const Generation& /*generation*/) const {
  return {.height = defaults_.height, .width = defaults_.width};
}

namespace {

void check_shard_options(const PipelineLoadOptions& options) {
  if (options.shard_group == nullptr) return;
  // Layerwise casting and parked experts swap the parameters' data, which sharded weights own between gathers.
  TESSERA_CHECK(options.weights == WeightStorage::full, "--shard-weights does not combine with --weights ",
                weight_storage_name(options.weights), " yet; use one of them");
  TESSERA_CHECK(options.idle_expert == IdleExpert::resident, "--shard-weights keeps each expert's share resident "
                "(a share is already 1/", options.shard_group->size(), " of its weights); leave out --idle-expert ",
                idle_expert_name(options.idle_expert), ", or use --idle-expert resident");
}

}  // namespace

void Pipeline::load_parts(const PipelineIndex& index, c10::ScalarType dtype, c10::Device device,
                          const PipelineLoadOptions& options) {
  check_index(index);
  dir_ = index.dir;
  class_name_ = index.class_name;
  dtype_ = dtype;
  device_ = device;
  defaults_ = read_defaults(index, family_defaults());
  // The small parts first, so that their errors come before the transformer is loaded.
  scheduler_ = load_scheduler(index.part_dir("scheduler"));
  check_scheduler_class(index, *scheduler_);
  check_scheduler(index);
  const std::vector<std::string> parts = transformer_parts(index);
  TESSERA_INTERNAL_ASSERT(!parts.empty(), "a family denoises with at least one transformer");
  std::vector<PartConfig> configs;
  for (const std::string& part : parts) {
    configs.push_back(checked_part(index, part));
    TESSERA_CHECK(configs.back().class_name() == transformer_class(), "the ", index.class_name,
                  " pipeline denoises with a ", transformer_class(), " (its ", part, ")");
  }
  takes_guidance_scale_2_ = switches_experts(index);
  decoder_ = load_decoder(index, device);
  {
    std::optional<WeightlessLoadScope> weightless;
    // A sharded encoder loads its share on every rank whatever this says; the rest stays shape-only.
    if (!options.encodes_text) weightless.emplace();
    text_encoder_ = load_text_encoder(index, dtype, device, options.shard_group);
  }
  encodes_text_ = options.encodes_text;
  // The last first, each parked as soon as it has loaded, so that the device never holds two experts' weights,
  // not even while loading; the first stays, to run first.
  check_shard_options(options);
  residency_ = std::make_unique<ExpertResidency>(options.idle_expert, device, dtype);
  transformers_.resize(parts.size());
  for (size_t i = parts.size(); i-- > 0;) {
    transformers_[i] = {.part = parts[i], .model = load_model(configs[i], dtype, device, options.shard_group)};
    store_weights(*transformers_[i].model, options.weights);
    residency_->add(*transformers_[i].model, configs[i].dir(), /*active=*/i == 0);
  }
  transformer_ = transformers_.front().model;
  layout_ = prepare(index);
}

int64_t Pipeline::default_frames(const GenerationRequest& /*request*/) const { return defaults_.frames; }

StepModel Pipeline::step_model(const Generation& generation, double /*timestep*/) const {
  return {.model = transformer_.get(), .guidance_scale = loop_guidance_scale(generation)};
}

Model* Pipeline::transformer_of(const std::string& part) const {
  for (const PipelineTransformer& transformer : transformers_) {
    if (transformer.part == part) return transformer.model.get();
  }
  return nullptr;
}

Generation Pipeline::resolve(const GenerationRequest& request) const {
  Generation generation;
  generation.prompt = request.prompt;
  generation.negative_prompt = request.negative_prompt.value_or(defaults_.negative_prompt);
  generation.steps = request.steps.value_or(defaults_.steps);
  generation.guidance_scale = request.guidance_scale.value_or(defaults_.guidance_scale);
  check_guidance_scale_2_taken(class_name_, dir_, takes_guidance_scale_2_, request);
  if (takes_guidance_scale_2_) {
    generation.guidance_scale_2 = request.guidance_scale_2.value_or(generation.guidance_scale);
  }
  generation.seed = request.seed;
  check_image_request(request);
  generation.image = read_request_image(request.image);
  generation.last_image = read_request_image(request.last_image);
  const FrameSize size = request.height && request.width ? FrameSize{} : default_size(generation);
  generation.height = request.height.value_or(size.height);
  generation.width = request.width.value_or(size.width);
  generation.frames = request.frames.value_or(default_frames(request));
  TESSERA_CHECK(!generation.prompt.empty(), "the prompt is empty; say what to draw");
  text_encoder_->check_prompt(generation.prompt);
  text_encoder_->check_prompt(generation.negative_prompt);
  TESSERA_CHECK(generation.steps >= 1, "--steps must be at least 1, got ", generation.steps);
  TESSERA_CHECK(generation.frames >= 1, "--frames must be at least 1, got ", generation.frames);
  check_request(request, generation);
  const int64_t frame_step = decoder_->temporal_scale();
  TESSERA_CHECK((generation.frames - 1) % frame_step == 0, "--frames ", generation.frames, ": the ",
                decoder_->class_name(), " makes 1 + ", frame_step, "k frames; the nearest valid counts are ",
                (generation.frames - 1) / frame_step * frame_step + 1, " and ",
                ((generation.frames - 1) / frame_step + 1) * frame_step + 1);
  check_guidance_scale(generation.guidance_scale);
  if (generation.guidance_scale_2) {
    check_guidance_scale(*generation.guidance_scale_2);
    // diffusers runs the guidance branches only when the first scale is above 1, and would ignore the second.
    TESSERA_CHECK(generation.guidance_scale > 1.0 || *generation.guidance_scale_2 <= 1.0, "guidance_scale_2 ",
                  *generation.guidance_scale_2, " asks for classifier-free guidance in the low-noise stage, but "
                  "guidance_scale ", generation.guidance_scale, " (1 or less) turns guidance off for the whole "
                  "generation; give a guidance scale above 1, or a guidance_scale_2 of 1 or less");
  }
  check_size("height", generation.height, layout_.size_multiple);
  check_size("width", generation.width, layout_.size_multiple);
  return generation;
}

PromptEmbeddings Pipeline::encode_prompts(const std::vector<std::string>& prompts, Communicator* group) {
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (group == nullptr || group->size() == 1) {
    TESSERA_CHECK(encodes_text_, "this rank loaded the text encoder without its weights, to receive the "
                  "embeddings from rank 0 of a generation's group, but it runs a generation alone");
    PromptEmbeddings text = text_encoder_->encode(prompts);
    TESSERA_LOG_DEBUG("encoded ", prompts.size(), " prompt(s) in ", seconds(), " s");
    return text;
  }
  TESSERA_CHECK(group->rank() != 0 || encodes_text_, "rank 0 of a generation's group encodes its prompts, but this "
                "rank loaded the text encoder without its weights");
  // A sharded encoder (--shard-weights) gathers its weights from the same group as rank 0 encodes.
  if (group->rank() != 0) text_encoder_->accompany_encode(prompts.size());
  PromptEmbeddings text = broadcast_prompt_embeddings(
      group->rank() == 0 ? text_encoder_->encode(prompts) : PromptEmbeddings{}, *group, /*root=*/0, device_);
  TESSERA_LOG_DEBUG(group->rank() == 0 ? "encoded and sent " : "received ", prompts.size(), " prompt(s) in ",
                    seconds(), " s");
  return text;
}

at::Tensor Pipeline::generate(const Generation& generation, DenoiseOptions loop, Communicator* decode_group) {
  c10::InferenceMode inference;
  check_loop(loop);
  loop.steps = generation.steps;
  loop.guidance_scale = loop_guidance_scale(generation);
  const bool guidance = loop.guidance_scale > 1.0;
  std::vector<std::string> prompts = {generation.prompt};
  if (guidance) prompts.push_back(generation.negative_prompt);
  const PromptEmbeddings text = encode_prompts(prompts, decode_group);
  DenoiseInputs inputs;
  inputs.prompt_embeds = text.embeddings.slice(0, 0, 1).to(dtype_);
  if (guidance) inputs.negative_prompt_embeds = text.embeddings.slice(0, 1, 2).to(dtype_);
  // The starting noise comes from a CPU generator seeded by the request alone, so it is the same on every
  // rank, at every world size and on every device.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(generation.seed);
  const int64_t scale = decoder_->spatial_scale();
  const at::Tensor noise = at::randn({1, layout_.channels, decoder_->latent_frames(generation.frames),
                                      generation.height / scale, generation.width / scale},
                                     generator, at::kFloat);
  inputs.latents = (noise * scheduler_->init_noise_sigma()).to(device_);
  {
    // Reset however prepare_inputs ends: the group may not outlive this call.
    struct VaeGroupScope {
      Communicator*& group;
      ~VaeGroupScope() { group = nullptr; }
    } scope{vae_group_ = decode_group};
    prepare_inputs(inputs, generation, text, noise);
  }
  DenoiseModels models;
  for (const PipelineTransformer& transformer : transformers_) models.models.push_back(transformer.model.get());
  models.for_step = [&](double timestep) {
    const StepModel step = step_model(generation, timestep);
    residency_->activate(*step.model);
    return step;
  };
  const at::Tensor latents = denoise(models, *scheduler_, inputs, loop);
  return decoder_->decode_to_frames(latents.to(at::kFloat), decode_group)[0];
}

}  // namespace tessera
