#pragma once
// Wan's text encoder: WanPipeline._get_t5_prompt_embeds in C++. Each prompt is cleaned (prompt_clean),
// tokenized to max_length with "</s>" and padding (SentencePieceTokenizer), encoded by UMT5 with the padding
// masked, and its embeddings zeroed past its tokens.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <vector>

#include "src/models/part_config.h"
#include "src/models/text/sentencepiece_tokenizer.h"
#include "src/models/text_encoder.h"

namespace tessera {

class Communicator;
class Umt5Encoder;

class Umt5TextEncoder : public TextEncoder {
 public:
  static constexpr const char* kClassName = "UMT5EncoderModel";
  // text_encoder_dir: a transformers UMT5EncoderModel folder (config.json, safetensors weights);
  // tokenizer_dir: a T5 tokenizer folder with spiece.model. max_length: tokens per prompt, "</s>" included
  // (WanPipeline's max_sequence_length, 512). Throws tessera::Error naming the file at fault.
  // shard_group: the encoder's weights sharded across it (load_umt5_encoder); every rank of it must load.
  static std::unique_ptr<Umt5TextEncoder> load(const PartConfig& text_encoder, const std::string& tokenizer_dir,
                                               c10::ScalarType dtype, c10::Device device, int64_t max_length = 512,
                                               std::shared_ptr<Communicator> shard_group = nullptr);
  ~Umt5TextEncoder() override;

  std::string class_name() const override { return kClassName; }
  // Any UTF-8 text is a prompt (an open vocabulary; what does not fit max_length is cut, as the pipeline does).
  void check_prompt(const std::string& prompt) const override;
  // [prompts, max_length, d_model] float32, zero past each prompt's tokens; mask [prompts, max_length] bool.
  PromptEmbeddings encode(const std::vector<std::string>& prompts) override;
  void accompany_encode(size_t prompts) override;
  int64_t max_length() const { return max_length_; }

 private:
  Umt5TextEncoder(std::shared_ptr<Umt5Encoder> encoder, SentencePieceTokenizer tokenizer, c10::Device device,
                  int64_t max_length);

  std::shared_ptr<Umt5Encoder> encoder_;
  SentencePieceTokenizer tokenizer_;
  c10::Device device_;
  int64_t max_length_;
};

}  // namespace tessera
