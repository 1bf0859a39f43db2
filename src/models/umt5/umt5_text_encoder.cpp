#include "src/models/umt5/umt5_text_encoder.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "common/check.h"
#include "src/models/text/prompt_clean.h"
#include "src/models/umt5/umt5_encoder.h"

namespace tessera {

Umt5TextEncoder::Umt5TextEncoder(std::shared_ptr<Umt5Encoder> encoder, SentencePieceTokenizer tokenizer,
                                 c10::Device device, int64_t max_length)
    : encoder_(std::move(encoder)), tokenizer_(std::move(tokenizer)), device_(device), max_length_(max_length) {}

Umt5TextEncoder::~Umt5TextEncoder() = default;

std::unique_ptr<Umt5TextEncoder> Umt5TextEncoder::load(const PartConfig& text_encoder,
                                                       const std::string& tokenizer_dir, c10::ScalarType dtype,
                                                       c10::Device device, int64_t max_length,
                                                       std::shared_ptr<Communicator> shard_group) {
  TESSERA_CHECK(max_length >= 1, "UMT5 max_length must be at least 1, got ", max_length);
  SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(tokenizer_dir);
  std::shared_ptr<Umt5Encoder> encoder = load_umt5_encoder(text_encoder, dtype, device, std::move(shard_group));
  TESSERA_CHECK(tokenizer.vocab_size() <= encoder->config().vocab_size, "tokenizer ", tokenizer_dir, " has ",
                tokenizer.vocab_size(), " pieces but text encoder ", text_encoder.dir(), " embeds only ",
                encoder->config().vocab_size, " tokens; they are not from the same model");
  return std::unique_ptr<Umt5TextEncoder>(new Umt5TextEncoder(std::move(encoder), std::move(tokenizer), device,
                                                              max_length));
}

void Umt5TextEncoder::check_prompt(const std::string& prompt) const { prompt_clean(prompt); }

PromptEmbeddings Umt5TextEncoder::encode(const std::vector<std::string>& prompts) {
  c10::InferenceMode inference;
  const auto count = static_cast<int64_t>(prompts.size());
  at::Tensor ids = at::empty({count, max_length_}, at::kLong);
  at::Tensor mask = at::empty({count, max_length_}, at::kLong);
  for (int64_t i = 0; i < count; ++i) {
    const TokenizedPrompt tokens = tokenizer_.encode(prompt_clean(prompts[i]), max_length_);
    ids[i].copy_(at::tensor(tokens.ids, at::kLong));
    mask[i].copy_(at::tensor(tokens.mask, at::kLong));
  }
  if (count == 0) {
    return {.embeddings = at::empty({0, max_length_, encoder_->config().d_model}, at::TensorOptions().device(device_)),
            .mask = at::empty({0, max_length_}, at::TensorOptions().dtype(at::kBool).device(device_)),
            .pooled = {}};
  }
  ids = ids.to(device_);
  const at::Tensor valid = mask.to(device_).to(at::kBool);
  const at::Tensor hidden = encoder_->forward(ids, valid).to(at::kFloat);
  // The pipeline keeps each prompt's first seq_len rows and pads with zeros; the mask is that same prefix.
  return {.embeddings = hidden.masked_fill(valid.logical_not().unsqueeze(-1), 0.0), .mask = valid, .pooled = {}};
}

void Umt5TextEncoder::accompany_encode(size_t prompts) {
  // encode() runs the encoder once for all its prompts, and not at all for none.
  if (prompts > 0) encoder_->accompany_forward();
}

}  // namespace tessera
