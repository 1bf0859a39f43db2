#include "src/models/flux_text/flux_text_encoder.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "common/check.h"
#include "src/models/clip/clip_text_model.h"
#include "src/models/text/unicode_text.h"
#include "src/models/umt5/umt5_encoder.h"

namespace tessera {

FluxTextEncoderParts FluxTextEncoderParts::in(const std::string& pipeline_dir) {
  return {.text_encoder = pipeline_dir + "/text_encoder",
          .tokenizer = pipeline_dir + "/tokenizer",
          .text_encoder_2 = pipeline_dir + "/text_encoder_2",
          .tokenizer_2 = pipeline_dir + "/tokenizer_2"};
}

FluxTextEncoder::FluxTextEncoder(std::shared_ptr<ClipTextModel> clip, BpeTokenizer clip_tokenizer,
                                 std::shared_ptr<Umt5Encoder> t5, SentencePieceTokenizer t5_tokenizer,
                                 c10::Device device, int64_t max_sequence_length)
    : clip_(std::move(clip)),
      clip_tokenizer_(std::move(clip_tokenizer)),
      t5_(std::move(t5)),
      t5_tokenizer_(std::move(t5_tokenizer)),
      device_(device),
      max_sequence_length_(max_sequence_length) {}

FluxTextEncoder::~FluxTextEncoder() = default;

std::unique_ptr<FluxTextEncoder> FluxTextEncoder::load(const FluxTextEncoderParts& parts, c10::ScalarType dtype,
                                                       c10::Device device, int64_t max_sequence_length,
                                                       std::shared_ptr<Communicator> shard_group) {
  TESSERA_CHECK(max_sequence_length >= 1, "FLUX max_sequence_length must be at least 1, got ", max_sequence_length);
  BpeTokenizer clip_tokenizer = BpeTokenizer::load(parts.tokenizer);
  std::shared_ptr<ClipTextModel> clip = load_clip_text_model(parts.text_encoder, dtype, device, shard_group);
  TESSERA_CHECK(clip_tokenizer.vocab_size() <= clip->config().vocab_size, "tokenizer ", parts.tokenizer, " has ",
                clip_tokenizer.vocab_size(), " tokens but text encoder ", parts.text_encoder.dir(), " embeds only ",
                clip->config().vocab_size, "; they are not from the same model");
  TESSERA_CHECK(clip_tokenizer.model_max_length() <= clip->config().max_position_embeddings, "tokenizer ",
                parts.tokenizer, " pads to ", clip_tokenizer.model_max_length(), " tokens but text encoder ",
                parts.text_encoder.dir(), " has ", clip->config().max_position_embeddings, " positions");
  SentencePieceTokenizer t5_tokenizer = SentencePieceTokenizer::load(parts.tokenizer_2);
  std::shared_ptr<Umt5Encoder> t5 = load_umt5_encoder(parts.text_encoder_2, dtype, device, std::move(shard_group));
  TESSERA_CHECK(t5_tokenizer.vocab_size() <= t5->config().vocab_size, "tokenizer ", parts.tokenizer_2, " has ",
                t5_tokenizer.vocab_size(), " pieces but text encoder ", parts.text_encoder_2.dir(), " embeds only ",
                t5->config().vocab_size, " tokens; they are not from the same model");
  return std::unique_ptr<FluxTextEncoder>(new FluxTextEncoder(std::move(clip), std::move(clip_tokenizer),
                                                              std::move(t5), std::move(t5_tokenizer), device,
                                                              max_sequence_length));
}

std::unique_ptr<FluxTextEncoder> FluxTextEncoder::load(const std::string& pipeline_dir, c10::ScalarType dtype,
                                                       c10::Device device, int64_t max_sequence_length) {
  return load(FluxTextEncoderParts::in(pipeline_dir), dtype, device, max_sequence_length);
}

int64_t FluxTextEncoder::embedding_dim() const { return t5_->config().d_model; }
int64_t FluxTextEncoder::pooled_dim() const { return clip_->config().hidden_size; }

void FluxTextEncoder::check_prompt(const std::string& prompt) const { utf8_to_code_points(prompt, "prompt"); }

PromptEmbeddings FluxTextEncoder::encode(const std::vector<std::string>& prompts) {
  c10::InferenceMode inference;
  const auto count = static_cast<int64_t>(prompts.size());
  const auto on_device = at::TensorOptions().device(device_);
  if (count == 0) {
    return {.embeddings = at::empty({0, max_sequence_length_, embedding_dim()}, on_device),
            .mask = at::empty({0, max_sequence_length_}, on_device.dtype(at::kBool)),
            .pooled = at::empty({0, pooled_dim()}, on_device)};
  }
  at::Tensor clip_ids = at::empty({count, clip_max_length()}, at::kLong);
  at::Tensor t5_ids = at::empty({count, max_sequence_length_}, at::kLong);
  for (int64_t i = 0; i < count; ++i) {
    clip_ids[i].copy_(at::tensor(clip_tokenizer_.encode(prompts[i], clip_max_length()), at::kLong));
    t5_ids[i].copy_(at::tensor(t5_tokenizer_.encode(prompts[i], max_sequence_length_).ids, at::kLong));
  }
  const at::Tensor pooled = clip_->forward(clip_ids.to(device_)).pooled.to(at::kFloat);
  const at::Tensor embeddings = t5_->forward(t5_ids.to(device_), /*attention_mask=*/{}).to(at::kFloat);
  return {.embeddings = embeddings,
          .mask = at::ones({count, max_sequence_length_}, on_device.dtype(at::kBool)),
          .pooled = pooled};
}

void FluxTextEncoder::accompany_encode(size_t prompts) {
  // encode() runs CLIP then T5, each once for all its prompts, and neither for none.
  if (prompts == 0) return;
  clip_->accompany_forward();
  t5_->accompany_forward();
}

}  // namespace tessera
