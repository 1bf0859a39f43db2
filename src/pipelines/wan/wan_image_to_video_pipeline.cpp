#include "src/pipelines/wan/wan_image_to_video_pipeline.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/check.h"
#include "common/log.h"
#include "hooks/args.h"
#include "src/io/image_resample.h"
#include "src/models/clip/clip_image_processor.h"
#include "src/models/clip/clip_vision_model.h"
#include "src/models/latent_decoder.h"
#include "src/models/model.h"
#include "src/models/wan/wan_transformer.h"
#include "src/models/wan_vae/wan_vae_decoder.h"
#include "src/pipelines/pipeline_index.h"
#include "src/pipelines/pipeline_parts.h"

namespace tessera {
namespace {

// An RGB image as the VAE takes it, [1, 3, height, width] in [-1, 1]: diffusers' VideoProcessor resizes a PIL
// image with Lanczos (a copy when the size already matches), divides by 255 in float32 and maps to 2x - 1. Each
// step is computed in double and rounded once to float32, which gives float32's own correctly rounded result.
at::Tensor vae_pixels(const io::FrameBuffer& image, int64_t height, int64_t width) {
  const io::FrameBuffer sized = io::resize_image(image, height, width, io::Resample::lanczos);
  const at::Tensor bytes =
      at::from_blob(const_cast<uint8_t*>(sized.rgb.data()), {1, height, width, 3}, at::kByte).to(at::kDouble);
  const at::Tensor unit = (bytes / 255.0).to(at::kFloat);
  return (unit.to(at::kDouble) * 2.0 - 1.0).to(at::kFloat).permute({0, 3, 1, 2}).contiguous();
}

// `latents` [B, C, F, h, w] with its first frame replaced by `first` [1, C, 1, h, w]: diffusers' (1 - mask) *
// condition + mask * latents with a mask of 0 on the first frame, which selects exactly.
at::Tensor with_first_frame(const at::Tensor& latents, const at::Tensor& first) {
  at::Tensor result = latents.clone();
  result.narrow(2, 0, 1).copy_(first.expand({latents.size(0), -1, -1, -1, -1}));
  return result;
}

const WanConfig& wan_config(const Model& model) {
  return dynamic_cast<const WanTransformer3DModel&>(model).config();
}

}  // namespace

WanImageToVideoPipeline::WanImageToVideoPipeline() = default;
WanImageToVideoPipeline::~WanImageToVideoPipeline() = default;

Pipeline::LatentLayout WanImageToVideoPipeline::prepare(const PipelineIndex& index) {
  vae_ = dynamic_cast<WanVaeDecoder*>(decoder_.get());
  TESSERA_CHECK(vae_ != nullptr, index.dir, ": the image-to-video pipeline encodes its image with the Wan VAE (",
                WanVaeDecoder::kClassName, "), but its vae holds a ", decoder_->class_name());
  // Wan2.2 TI2V (expand_timesteps) writes the image's latents into the first latent frame instead of joining
  // them on the channels.
  const int64_t extra_channels =
      expands_timesteps(index) ? 0 : decoder_->temporal_scale() + decoder_->latent_channels();
  const LatentLayout layout = wan_layout(index, extra_channels, "the frame mask and the image's latents");
  // diffusers reads image_dim from `transformer` alone and gives its image embeddings to both experts.
  const Model* first = transformer_of("transformer");
  const int64_t image_dim = first != nullptr ? wan_config(*first).image_dim : 0;
  for (const PipelineTransformer& expert : transformers_) {
    TESSERA_CHECK(wan_config(*expert.model).image_dim == image_dim, "the experts of ", index.dir, " differ: ",
                  index.part_dir(expert.part), " takes image embeddings of width ",
                  wan_config(*expert.model).image_dim, ", the transformer ", image_dim, " (0: none)");
  }
  if (image_dim == 0) {
    if (index.parts.count("image_encoder") > 0) {
      TESSERA_LOG_INFO(index.dir, ": image_encoder is not loaded: the transformer takes no image embeddings ",
                       "(no image_dim), so diffusers does not run it either");
    }
    return layout;
  }
  TESSERA_CHECK(index.parts.count("image_encoder") > 0 && index.parts.count("image_processor") > 0, index.dir,
                ": the transformer takes image embeddings (image_dim ", image_dim, "), but model_index.json lists ",
                "no image_encoder and image_processor to make them; a Wan2.1 image-to-video folder has both");
  image_encoder_ = load_clip_vision_model(checked_part(index, "image_encoder"), dtype_, device_);
  TESSERA_CHECK(image_encoder_->config().hidden_size == image_dim, index.part_dir("image_encoder"),
                " gives hidden states of width ", image_encoder_->config().hidden_size,
                ", but the transformer takes image embeddings of width ", image_dim, " (image_dim)");
  image_processor_ =
      std::make_unique<ClipImageProcessor>(ClipImageProcessor::load(index.part_dir("image_processor")));
  takes_two_images_ = wan_config(*first).pos_embed_seq_len > 0;
  return layout;
}

void WanImageToVideoPipeline::check_image_request(const GenerationRequest& request) const {
  TESSERA_CHECK(request.image.has_value(), "the ", class_name_, " in ", dir_, " makes a video from its first ",
                "frame: give the image with --image PATH (PNG or JPEG; a batch job's \"image\")");
}

Pipeline::FrameSize WanImageToVideoPipeline::default_size(const Generation& generation) const {
  // WanImageToVideoPipeline's examples: the area of the default size, at the image's aspect ratio, each side
  // rounded (half to even, as numpy) and then down to a multiple of what the transformer takes.
  const double area = static_cast<double>(defaults_.height) * static_cast<double>(defaults_.width);
  const double aspect = static_cast<double>(generation.image->height) / static_cast<double>(generation.image->width);
  const int64_t multiple = latent_layout().size_multiple;
  const auto side = [multiple](double exact) {
    return std::max(multiple, static_cast<int64_t>(std::nearbyint(exact)) / multiple * multiple);
  };
  return {.height = side(std::sqrt(area * aspect)), .width = side(std::sqrt(area / aspect))};
}

void WanImageToVideoPipeline::check_request(const GenerationRequest& request, const Generation& generation) const {
  WanPipeline::check_request(request, generation);
  if (generation.last_image) {
    TESSERA_CHECK(!expand_timesteps_, "--last-image: ", dir_, " is a Wan2.2 TI2V folder (expand_timesteps), which ",
                  "conditions on the first frame alone (diffusers ignores a last image there); leave it out");
    TESSERA_CHECK(generation.frames >= 2, "--last-image: a clip of ", generation.frames, " frame has no last frame ",
                  "apart from its first; ask for more frames (--frames)");
  }
  if (!image_encoder_) return;
  if (takes_two_images_) {
    TESSERA_CHECK(generation.last_image != nullptr, "the transformer in ", dir_, " learned positions for a first ",
                  "and a last image (pos_embed_seq_len: a first-and-last-frame checkpoint, FLF2V); give the last ",
                  "frame with --last-image PATH");
  } else {
    TESSERA_CHECK(generation.last_image == nullptr, "--last-image: the transformer in ", dir_, " takes one image's ",
                  "embeddings (no pos_embed_seq_len); first-and-last-frame generation needs an FLF2V checkpoint. ",
                  "Leave --last-image out");
  }
}

at::Tensor WanImageToVideoPipeline::condition(const Generation& generation) const {
  const int64_t frames = generation.frames, height = generation.height, width = generation.width;
  if (expand_timesteps_) {
    // TI2V: the image alone, one latent frame, which replaces the first frame of the latents.
    const at::Tensor image = vae_pixels(*generation.image, height, width).unsqueeze(2);
    return vae_->encode(image, vae_group_).to(at::kFloat).to(device_);
  }
  // The clip the VAE encodes: the image, black (0 in [-1, 1]) frames, and the last image in the last frame; the
  // encode is split by row bands over the generation's ranks, as the decode is.
  at::Tensor video = at::zeros({1, 3, frames, height, width}, at::kFloat);
  video.select(2, 0).copy_(vae_pixels(*generation.image, height, width));
  if (generation.last_image) video.select(2, frames - 1).copy_(vae_pixels(*generation.last_image, height, width));
  const at::Tensor latents = vae_->encode(video, vae_group_).to(at::kFloat);

  // The frame mask, 1 for the given frames, with the first frame counted temporal-scale times as the VAE counts
  // it, regrouped into one channel per frame of each latent frame.
  const int64_t scale = decoder_->temporal_scale();
  const int64_t latent_height = latents.size(3), latent_width = latents.size(4);
  at::Tensor mask = at::zeros({1, 1, frames, latent_height, latent_width}, at::kFloat);
  mask.narrow(2, 0, 1).fill_(1.0);
  if (generation.last_image) mask.narrow(2, frames - 1, 1).fill_(1.0);
  mask = at::cat({mask.narrow(2, 0, 1).repeat_interleave(scale, 2), mask.narrow(2, 1, frames - 1)}, 2);
  mask = mask.view({1, -1, scale, latent_height, latent_width}).transpose(1, 2);
  return at::cat({mask, latents}, 1).to(device_);
}

at::Tensor WanImageToVideoPipeline::image_embeddings(const Generation& generation) const {
  if (!image_encoder_) return {};
  std::vector<at::Tensor> pixels = {image_processor_->preprocess(*generation.image)};
  if (generation.last_image) pixels.push_back(image_processor_->preprocess(*generation.last_image));
  const at::Tensor batch = at::cat(pixels, 0).to(device_, dtype_);
  return image_encoder_->penultimate_hidden_state(batch).to(dtype_);
}

WanImageToVideoPipeline::ImageCondition WanImageToVideoPipeline::image_condition(const Generation& generation) const {
  c10::InferenceMode inference;
  return {.condition = condition(generation), .image_embeddings = image_embeddings(generation)};
}

void WanImageToVideoPipeline::prepare_inputs(DenoiseInputs& inputs, const Generation& generation,
                                             const PromptEmbeddings& /*text*/, const at::Tensor& /*noise*/) const {
  const auto [condition, images] = image_condition(generation);
  if (expand_timesteps_) {
    // The first latent frame is the image's, before every step and at the end.
    inputs.finish = [condition](const at::Tensor& latents) { return with_first_frame(latents, condition); };
  }
  inputs.predict = [this, condition, images](Model& model, const at::Tensor& latents, double timestep,
                                             const at::Tensor& text) {
    // Every sample of the batch (the batch guidance mode's [uncond, cond]) has the same condition and images.
    const int64_t batch = latents.size(0);
    const at::Tensor given = condition.to(latents.scalar_type());
    const at::Tensor hidden_states =
        expand_timesteps_ ? with_first_frame(latents, given)
                          : at::cat({latents, given.expand({batch, -1, -1, -1, -1})}, 1);
    Args args = transformer_args(hidden_states, latents, timestep, text, /*first_frame_held=*/expand_timesteps_);
    // A first-and-last-frame pair is two rows per sample, which the transformer joins into one sequence.
    if (images.defined()) args.set("encoder_hidden_states_image", images.repeat({batch, 1, 1}));
    return model(args).at(0);
  };
}

}  // namespace tessera
