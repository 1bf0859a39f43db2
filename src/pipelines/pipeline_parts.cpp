#include "src/pipelines/pipeline_parts.h"

#include <utility>

#include "common/check.h"
#include "src/models/autoencoder_kl/autoencoder_kl_decoder.h"
#include "src/models/flux_text/flux_text_encoder.h"
#include "src/models/text/word_text_encoder.h"
#include "src/models/umt5/umt5_text_encoder.h"
#include "src/models/wan_vae/wan_vae_decoder.h"
#include "src/models/latent_decoder.h"
#include "src/pipelines/pipeline_index.h"
#include "src/models/pixel_decoder.h"
#include "src/models/text_encoder.h"

namespace tessera {

PartConfig checked_part(const PipelineIndex& index, const std::string& part) {
  PartConfig folder(index.part_dir(part));
  const std::string& actual = folder.named_class();
  const PipelinePart& listed = index.part(part);
  TESSERA_CHECK(listed.class_name == actual, index.dir, "/model_index.json says the ", part, " is a ",
                listed.class_name, " but ", folder.dir(), " holds a ", actual);
  return folder;
}

std::unique_ptr<TextEncoder> load_text_encoder(const PipelineIndex& index, c10::ScalarType dtype, c10::Device device,
                                               std::shared_ptr<Communicator> shard_group) {
  const PartConfig text_encoder = checked_part(index, "text_encoder");
  const std::string& class_name = text_encoder.class_name();
  if (class_name == WordTextEncoder::kClassName) {
    return WordTextEncoder::load(text_encoder, index.part_dir("tokenizer"), device);
  }
  if (class_name == Umt5TextEncoder::kClassName) {
    return Umt5TextEncoder::load(text_encoder, index.part_dir("tokenizer"), dtype, device, /*max_length=*/512,
                                 std::move(shard_group));
  }
  if (class_name == FluxTextEncoder::kClassName) {
    // FLUX: CLIP for the pooled vector beside T5 (text_encoder_2) for the tokens.
    PartConfig text_encoder_2 = checked_part(index, "text_encoder_2");
    TESSERA_CHECK(text_encoder_2.class_name() == "T5EncoderModel", index.dir, "/text_encoder_2 ",
                  "must hold a T5EncoderModel beside the CLIPTextModel in text_encoder/");
    return FluxTextEncoder::load({.text_encoder = text_encoder,
                                  .tokenizer = index.part_dir("tokenizer"),
                                  .text_encoder_2 = std::move(text_encoder_2),
                                  .tokenizer_2 = index.part_dir("tokenizer_2")},
                                 dtype, device, /*max_sequence_length=*/512, std::move(shard_group));
  }
  TESSERA_CHECK(false, "unknown text encoder class '", class_name, "' in ", text_encoder.dir(), "; tessera reads ",
                Umt5TextEncoder::kClassName, ", ", FluxTextEncoder::kClassName, " (with a T5EncoderModel) and ",
                WordTextEncoder::kClassName);
}

std::unique_ptr<LatentDecoder> load_decoder(const PipelineIndex& index, c10::Device device) {
  const PartConfig vae = checked_part(index, "vae");
  const std::string& class_name = vae.class_name();
  if (class_name == PixelDecoder::kClassName) return PixelDecoder::load(vae);
  if (class_name == WanVaeDecoder::kClassName) return WanVaeDecoder::load(vae, c10::ScalarType::Float, device);
  if (class_name == AutoencoderKlDecoder::kClassName) {
    return AutoencoderKlDecoder::load(vae, c10::ScalarType::Float, device);
  }
  TESSERA_CHECK(false, "unknown decoder class '", class_name, "' in ", vae.dir(), "; tessera reads ",
                WanVaeDecoder::kClassName, ", ", AutoencoderKlDecoder::kClassName, " and ", PixelDecoder::kClassName);
}

}  // namespace tessera
