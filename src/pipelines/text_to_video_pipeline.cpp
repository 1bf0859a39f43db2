#include "src/pipelines/text_to_video_pipeline.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/load_model.h"
#include "parallel/communicator.h"
#include "src/models/flux/flux_transformer.h"
#include "src/models/model.h"
#include "src/models/wan/wan_transformer.h"
#include "src/pipelines/coordinate_channels.h"
#include "src/pipelines/flux_inputs.h"
#include "src/pipelines/latent_decoder.h"
#include "src/pipelines/pipeline_index.h"
#include "src/pipelines/pipeline_parts.h"
#include "src/pipelines/text_encoder.h"
#include "src/schedulers/flow_match_euler_discrete.h"
#include "src/schedulers/scheduler.h"
#include "src/schedulers/scheduler_config.h"

#ifndef TESSERA_SOURCE_DIR
#define TESSERA_SOURCE_DIR ""
#endif

namespace tessera {
namespace {

constexpr const char* kShapesPipeline = "TesseraShapesPipeline";
constexpr const char* kWanPipeline = "WanPipeline";
constexpr const char* kFluxPipeline = "FluxPipeline";

// FluxPipeline.__call__'s defaults: default_sample_size 128 latent cells of 8 pixels, 28 steps, guidance 3.5.
GenerationDefaults flux_defaults() {
  return {.height = 1024,
          .width = 1024,
          .frames = 1,
          .steps = 28,
          .guidance_scale = 3.5,
          .negative_prompt = "",
          .motion_words = {},
          .motion_frames = 0};
}

// The latents a transformer denoises, and the multiple of height and width it takes.
struct LatentLayout {
  int64_t channels = 0;
  int64_t size_multiple = 1;
};

LatentLayout wan_layout(const PipelineIndex& index, Model& transformer, const LatentDecoder& decoder) {
  auto* wan = dynamic_cast<WanTransformer3DModel*>(&transformer);
  TESSERA_INTERNAL_ASSERT(wan != nullptr, "the transformer folder's class was checked");
  const auto& config = wan->config();
  const bool coordinates = index.config.value("coordinate_channels", false);
  const int64_t channels = config.in_channels - (coordinates ? kCoordinateChannels : 0);
  TESSERA_CHECK(channels == decoder.latent_channels() && config.out_channels == decoder.latent_channels(),
                "the transformer in ", index.part_dir("transformer"), " takes ", config.in_channels, " channels",
                coordinates ? " (with 3 coordinate channels)" : "", " and gives ", config.out_channels,
                ", but the decoder reads ", decoder.latent_channels());
  if (coordinates) enable_coordinate_channels(transformer);
  return {.channels = channels,
          .size_multiple = decoder.spatial_scale() * std::max(config.patch_size[1], config.patch_size[2])};
}

// FluxPipeline packs 2x2 latent cells into one token itself, so the transformer takes 4 channels per latent
// channel with patch_size 1, and sizes are multiples of twice the decoder's scale.
LatentLayout flux_layout(const PipelineIndex& index, Model& transformer, const LatentDecoder& decoder) {
  auto* flux = dynamic_cast<FluxTransformer2DModel*>(&transformer);
  TESSERA_INTERNAL_ASSERT(flux != nullptr, "the transformer folder's class was checked");
  const auto& config = flux->config();
  TESSERA_CHECK(config.patch_size == 1 && config.in_channels == 4 * decoder.latent_channels() &&
                    config.output_channels() == config.in_channels,
                "the transformer in ", index.part_dir("transformer"), " takes ", config.in_channels,
                " channels with patch_size ", config.patch_size, " and gives ", config.output_channels(),
                "; FluxPipeline packs 2x2 cells of the decoder's ", decoder.latent_channels(),
                " latent channels, so it needs ", 4 * decoder.latent_channels(), " in and out with patch_size 1");
  return {.channels = decoder.latent_channels(), .size_multiple = decoder.spatial_scale() * 2};
}

// The parts of model_index.json that only other Wan variants use, each refused with what it is.
void check_wan_variant(const PipelineIndex& index) {
  TESSERA_CHECK(index.parts.count("transformer_2") == 0, index.dir, "/model_index.json has a transformer_2: a Wan2.2 ",
                "two-expert checkpoint, which tessera does not run yet; use a Wan2.1 checkpoint");
  TESSERA_CHECK(!index.config.value("expand_timesteps", false), index.dir, "/model_index.json sets expand_timesteps ",
                "(Wan2.2 TI2V), which tessera does not run yet; use a Wan2.1 checkpoint");
}

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
  integer("motion_frames", defaults.motion_frames, 0);
  try {
    defaults.guidance_scale = json.value("guidance_scale", defaults.guidance_scale);
    defaults.negative_prompt = json.value("negative_prompt", defaults.negative_prompt);
    defaults.motion_words = json.value("motion_words", std::vector<std::string>{});
  } catch (const nlohmann::json::exception& error) {
    TESSERA_CHECK(false, where, " has a value of the wrong type: ", error.what());
  }
  return defaults;
}

bool mentions_any(const std::string& prompt, const std::vector<std::string>& words) {
  std::string lowered = prompt;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::istringstream stream(lowered);
  std::string word;
  while (stream >> word) {
    if (std::find(words.begin(), words.end(), word) != words.end()) return true;
  }
  return false;
}

void check_size(const char* name, int64_t value, int64_t multiple) {
  if (value >= multiple && value % multiple == 0) return;
  const int64_t below = std::max(multiple, value / multiple * multiple);
  const int64_t above = below < value ? below + multiple : below;
  TESSERA_CHECK(false, "--", name, " ", value, " is not a multiple of ", multiple,
                " (the decoder's scale times the transformer's patch); the nearest valid values are ", below,
                below == above ? "" : " and " + std::to_string(above));
}

}  // namespace

TextToVideoPipeline::~TextToVideoPipeline() = default;

std::unique_ptr<TextToVideoPipeline> TextToVideoPipeline::load(const std::string& dir, c10::ScalarType dtype,
                                                               c10::Device device) {
  const PipelineIndex index = read_pipeline_index(dir);
  TESSERA_CHECK(index.class_name == kShapesPipeline || index.class_name == kWanPipeline ||
                    index.class_name == kFluxPipeline,
                "unknown pipeline class '", index.class_name, "' in ", dir, "/model_index.json; tessera runs ",
                kWanPipeline, " (Wan2.1 text-to-video), ", kFluxPipeline, " (FLUX.1 text-to-image) and ",
                kShapesPipeline, " (the embedded model)");
  if (index.class_name == kWanPipeline) check_wan_variant(index);
  std::unique_ptr<TextToVideoPipeline> pipeline(new TextToVideoPipeline());
  pipeline->dir_ = dir;
  pipeline->class_name_ = index.class_name;
  pipeline->dtype_ = dtype;
  pipeline->device_ = device;
  pipeline->flux_ = index.class_name == kFluxPipeline;
  pipeline->defaults_ = read_defaults(index, pipeline->flux_ ? flux_defaults() : GenerationDefaults{});
  // The small parts first, so that their errors come before the transformer is loaded.
  const std::string scheduler_dir = index.part_dir("scheduler");
  pipeline->scheduler_ = load_scheduler(scheduler_dir);
  check_scheduler_class(index, *pipeline->scheduler_);
  if (pipeline->flux_) {
    TESSERA_CHECK(dynamic_cast<FlowMatchEulerDiscreteScheduler*>(pipeline->scheduler_.get()) != nullptr, index.dir,
                  "/scheduler holds a ", pipeline->scheduler_->class_name(), "; ", kFluxPipeline,
                  " steps with FlowMatchEulerDiscreteScheduler");
  }
  const char* transformer_class =
      pipeline->flux_ ? FluxTransformer2DModel::kClassName : WanTransformer3DModel::kClassName;
  TESSERA_CHECK(checked_part_class(index, "transformer") == transformer_class, "the ", index.class_name,
                " pipeline denoises with a ", transformer_class);
  pipeline->decoder_ = load_decoder(index, device);
  pipeline->text_encoder_ = load_text_encoder(index, dtype, device);
  pipeline->transformer_ = load_model(index.part_dir("transformer"), dtype, device);
  const LatentLayout layout = pipeline->flux_ ? flux_layout(index, *pipeline->transformer_, *pipeline->decoder_)
                                              : wan_layout(index, *pipeline->transformer_, *pipeline->decoder_);
  pipeline->latent_channels_ = layout.channels;
  pipeline->size_multiple_ = layout.size_multiple;
  if (pipeline->flux_) {
    pipeline->guidance_embeds_ = dynamic_cast<FluxTransformer2DModel&>(*pipeline->transformer_).config().guidance_embeds;
  }
  return pipeline;
}

Generation TextToVideoPipeline::resolve(const GenerationRequest& request) const {
  Generation generation;
  generation.prompt = request.prompt;
  generation.negative_prompt = request.negative_prompt.value_or(defaults_.negative_prompt);
  generation.steps = request.steps.value_or(defaults_.steps);
  generation.guidance_scale = request.guidance_scale.value_or(defaults_.guidance_scale);
  generation.seed = request.seed;
  generation.height = request.height.value_or(defaults_.height);
  generation.width = request.width.value_or(defaults_.width);
  const bool motion = defaults_.motion_frames > 0 && mentions_any(request.prompt, defaults_.motion_words);
  generation.frames = request.frames.value_or(motion ? defaults_.motion_frames : defaults_.frames);
  TESSERA_CHECK(!generation.prompt.empty(), "the prompt is empty; say what to draw");
  text_encoder_->check_prompt(generation.prompt);
  text_encoder_->check_prompt(generation.negative_prompt);
  TESSERA_CHECK(generation.steps >= 1, "--steps must be at least 1, got ", generation.steps);
  TESSERA_CHECK(generation.frames >= 1, "--frames must be at least 1, got ", generation.frames);
  if (flux_) {
    TESSERA_CHECK(generation.frames == 1, "--frames ", generation.frames, ": ", class_name_,
                  " makes still images; leave --frames out or give 1");
    // FluxPipeline's negative prompt only steers its optional "true CFG", which tessera does not run.
    TESSERA_CHECK(!request.negative_prompt || request.negative_prompt->empty(), class_name_, " takes no negative ",
                  "prompt: FLUX.1 is guidance-distilled and --guidance-scale is an input of the model");
  }
  const int64_t frame_step = decoder_->temporal_scale();
  TESSERA_CHECK((generation.frames - 1) % frame_step == 0, "--frames ", generation.frames, ": the ",
                decoder_->class_name(), " makes 1 + ", frame_step, "k frames; the nearest valid counts are ",
                (generation.frames - 1) / frame_step * frame_step + 1, " and ",
                ((generation.frames - 1) / frame_step + 1) * frame_step + 1);
  check_guidance_scale(generation.guidance_scale);
  check_size("height", generation.height, size_multiple_);
  check_size("width", generation.width, size_multiple_);
  return generation;
}

at::Tensor TextToVideoPipeline::generate(const Generation& generation, DenoiseOptions loop,
                                         Communicator* decode_group) {
  c10::InferenceMode inference;
  loop.steps = generation.steps;
  // FLUX takes the guidance scale as a model input (or, schnell, not at all): one forward per step.
  loop.guidance_scale = flux_ ? 1.0 : generation.guidance_scale;
  const bool guidance = loop.guidance_scale > 1.0;
  TESSERA_CHECK(!flux_ || loop.cfg_group == nullptr || loop.cfg_group->size() == 1, class_name_, " runs one ",
                "forward per step (FLUX.1 is guidance-distilled), so there are no guidance branches for --cfg 2 to ",
                "split; use --ulysses or --ring for its ranks");
  std::vector<std::string> prompts = {generation.prompt};
  if (guidance) prompts.push_back(generation.negative_prompt);
  const PromptEmbeddings text = text_encoder_->encode(prompts);
  DenoiseInputs inputs;
  inputs.prompt_embeds = text.embeddings.slice(0, 0, 1).to(dtype_);
  if (guidance) inputs.negative_prompt_embeds = text.embeddings.slice(0, 1, 2).to(dtype_);
  // The starting noise comes from a CPU generator seeded by the request alone, so it is the same on every
  // rank, at every world size and on every device.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(generation.seed);
  const int64_t scale = decoder_->spatial_scale();
  const at::Tensor noise = at::randn({1, latent_channels_, decoder_->latent_frames(generation.frames),
                                      generation.height / scale, generation.width / scale},
                                     generator, at::kFloat);
  inputs.latents = (noise * scheduler_->init_noise_sigma()).to(device_);
  if (flux_) {
    const auto& schedule = dynamic_cast<FlowMatchEulerDiscreteScheduler&>(*scheduler_).config();
    inputs.sigmas = flux_sigmas(generation.steps);
    inputs.mu = resolution_shift(noise.size(3) / 2 * (noise.size(4) / 2), schedule);
    inputs.predict = flux_predict({.pooled = text.pooled.slice(0, 0, 1).to(dtype_),
                                   .guidance = guidance_embeds_ ? std::optional<double>(generation.guidance_scale)
                                                                : std::nullopt});
  }
  const at::Tensor latents = denoise(*transformer_, *scheduler_, inputs, loop);
  return decoder_->decode_to_frames(latents.to(at::kFloat), decode_group)[0];
}

std::string default_model_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TESSERA_MODEL_DIR")) candidates.emplace_back(env);
  std::error_code error;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back((executable.parent_path() / "../share/tessera/models/tessera-shapes").string());
  if (std::string(TESSERA_SOURCE_DIR).size() > 0) {
    candidates.push_back(std::string(TESSERA_SOURCE_DIR) + "/models/tessera-shapes");
  }
  std::string looked;
  for (const auto& candidate : candidates) {
    if (is_pipeline_dir(candidate)) return std::filesystem::weakly_canonical(candidate).string();
    looked += (looked.empty() ? "" : ", ") + candidate;
  }
  TESSERA_CHECK(false, "the embedded default model was not found (looked in ", looked,
                "); pass --model DIR or set TESSERA_MODEL_DIR to the tessera-shapes folder");
}

}  // namespace tessera
