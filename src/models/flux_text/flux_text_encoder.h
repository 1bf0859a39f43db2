#pragma once
// FLUX's text encoders: FluxPipeline.encode_prompt in C++. CLIP (text_encoder/, tokenizer/) gives the pooled
// prompt vector; T5 (text_encoder_2/, tokenizer_2/) the per-token embeddings. As the pipeline, neither encoder gets
// an attention mask and nothing is zeroed past the prompt: the padding's embeddings are part of the conditioning.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <vector>

#include "src/models/part_config.h"
#include "src/models/text/bpe_tokenizer.h"
#include "src/models/text/sentencepiece_tokenizer.h"
#include "src/models/text_encoder.h"

namespace tessera {

class ClipTextModel;
class Communicator;
class Umt5Encoder;

// The four folders FLUX keeps its text side in; FluxTextEncoderParts::in(dir) names them under a pipeline folder.
struct FluxTextEncoderParts {
  PartConfig text_encoder;     // CLIPTextModel
  std::string tokenizer;       // CLIP BPE: vocab.json, merges.txt
  PartConfig text_encoder_2;   // T5EncoderModel
  std::string tokenizer_2;     // T5: spiece.model

  static FluxTextEncoderParts in(const std::string& pipeline_dir);
};

class FluxTextEncoder : public TextEncoder {
 public:
  static constexpr const char* kClassName = "CLIPTextModel";  // the class of text_encoder/, as model_index names it
  // max_sequence_length: T5 tokens per prompt, "</s>" included (FluxPipeline's max_sequence_length: 512 by default,
  // FLUX.1-schnell's 256). CLIP takes its tokenizer's model_max_length (77). Throws tessera::Error naming the
  // file at fault, or when a tokenizer's vocabulary exceeds its encoder's.
  // shard_group: both encoders' weights sharded across it (load_clip_text_model, load_umt5_encoder); every rank
  // of it must load.
  static std::unique_ptr<FluxTextEncoder> load(const FluxTextEncoderParts& parts, c10::ScalarType dtype,
                                               c10::Device device, int64_t max_sequence_length = 512,
                                               std::shared_ptr<Communicator> shard_group = nullptr);
  static std::unique_ptr<FluxTextEncoder> load(const std::string& pipeline_dir, c10::ScalarType dtype,
                                               c10::Device device, int64_t max_sequence_length = 512);
  ~FluxTextEncoder() override;

  std::string class_name() const override { return kClassName; }
  // Any UTF-8 text is a prompt (what does not fit is cut, as the pipeline does); tessera::Error otherwise.
  void check_prompt(const std::string& prompt) const override;
  // embeddings: T5's last hidden state [prompts, max_sequence_length, d_model] float32, padding rows included;
  // mask: all true (FLUX attends to every T5 position: the pipeline passes no mask on); pooled: CLIP's pooled
  // output [prompts, hidden_size] float32.
  PromptEmbeddings encode(const std::vector<std::string>& prompts) override;
  void accompany_encode(size_t prompts) override;

  int64_t max_sequence_length() const { return max_sequence_length_; }
  int64_t clip_max_length() const { return clip_tokenizer_.model_max_length(); }
  int64_t embedding_dim() const;  // T5's d_model
  int64_t pooled_dim() const;     // CLIP's hidden_size

 private:
  FluxTextEncoder(std::shared_ptr<ClipTextModel> clip, BpeTokenizer clip_tokenizer, std::shared_ptr<Umt5Encoder> t5,
                  SentencePieceTokenizer t5_tokenizer, c10::Device device, int64_t max_sequence_length);

  std::shared_ptr<ClipTextModel> clip_;
  BpeTokenizer clip_tokenizer_;
  std::shared_ptr<Umt5Encoder> t5_;
  SentencePieceTokenizer t5_tokenizer_;
  c10::Device device_;
  int64_t max_sequence_length_;
};

}  // namespace tessera
