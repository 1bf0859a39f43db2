#include "src/pipelines/pipeline_parts.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/io/json_file.h"
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

std::string checked_part_class(const PipelineIndex& index, const std::string& part) {
  const std::string dir = index.part_dir(part);
  const std::string path = dir + "/config.json";
  const nlohmann::json config = io::read_json_object(path);
  std::string actual;
  if (const auto found = config.find("_class_name"); found != config.end() && found->is_string()) {
    actual = found->get<std::string>();
  } else if (const auto listed = config.find("architectures");
             listed != config.end() && listed->is_array() && listed->size() == 1 && (*listed)[0].is_string()) {
    actual = (*listed)[0].get<std::string>();  // transformers' configs name the class this way
  }
  TESSERA_CHECK(!actual.empty(), path, " names no class (no \"_class_name\", and no one-entry \"architectures\")");
  const PipelinePart& listed = index.part(part);
  TESSERA_CHECK(listed.class_name == actual, index.dir, "/model_index.json says the ", part, " is a ",
                listed.class_name, " but ", dir, " holds a ", actual);
  return actual;
}

std::unique_ptr<TextEncoder> load_text_encoder(const PipelineIndex& index, c10::ScalarType dtype, c10::Device device) {
  const std::string class_name = checked_part_class(index, "text_encoder");
  const std::string dir = index.part_dir("text_encoder");
  if (class_name == WordTextEncoder::kClassName) {
    return WordTextEncoder::load(dir, index.part_dir("tokenizer"), device);
  }
  if (class_name == Umt5TextEncoder::kClassName) {
    return Umt5TextEncoder::load(dir, index.part_dir("tokenizer"), dtype, device);
  }
  if (class_name == FluxTextEncoder::kClassName) {
    // FLUX: CLIP for the pooled vector beside T5 (text_encoder_2) for the tokens.
    TESSERA_CHECK(checked_part_class(index, "text_encoder_2") == "T5EncoderModel", index.dir, "/text_encoder_2 ",
                  "must hold a T5EncoderModel beside the CLIPTextModel in text_encoder/");
    return FluxTextEncoder::load({.text_encoder = dir,
                                  .tokenizer = index.part_dir("tokenizer"),
                                  .text_encoder_2 = index.part_dir("text_encoder_2"),
                                  .tokenizer_2 = index.part_dir("tokenizer_2")},
                                 dtype, device);
  }
  TESSERA_CHECK(false, "unknown text encoder class '", class_name, "' in ", dir, "; tessera reads ",
                Umt5TextEncoder::kClassName, ", ", FluxTextEncoder::kClassName, " (with a T5EncoderModel) and ",
                WordTextEncoder::kClassName);
}

std::unique_ptr<LatentDecoder> load_decoder(const PipelineIndex& index, c10::Device device) {
  const std::string class_name = checked_part_class(index, "vae");
  const std::string dir = index.part_dir("vae");
  if (class_name == PixelDecoder::kClassName) return PixelDecoder::load(dir);
  if (class_name == WanVaeDecoder::kClassName) return WanVaeDecoder::load(dir, c10::ScalarType::Float, device);
  if (class_name == AutoencoderKlDecoder::kClassName) {
    return AutoencoderKlDecoder::load(dir, c10::ScalarType::Float, device);
  }
  TESSERA_CHECK(false, "unknown decoder class '", class_name, "' in ", dir, "; tessera reads ",
                WanVaeDecoder::kClassName, ", ", AutoencoderKlDecoder::kClassName, " and ", PixelDecoder::kClassName);
}

}  // namespace tessera
