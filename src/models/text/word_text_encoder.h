#pragma once
// The embedded model's text encoder: word embeddings plus learned positions, one or more small pre-norm
// transformer layers (so "left" after "moving" reads differently from "left" after "top"), a final norm.
// Trained jointly with the transformer by `tessera train`. On disk (a pipeline's text_encoder/ folder):
// config.json {"_class_name": "WordTextEncoder", ...} and model.safetensors.
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <string>

#include "src/models/part_config.h"
#include "src/models/text/word_tokenizer.h"
#include "src/models/text_encoder.h"

namespace tessera {

struct WordTextEncoderConfig {
  int64_t vocab_size = 0;  // words + the padding token
  int64_t max_length = 8;
  int64_t dim = 64;
  int64_t num_layers = 1;
  int64_t num_heads = 4;
};

// The torch module: ids [B, L] and mask [B, L] -> [B, L, dim], zero where the mask is false.
class WordEncoderModule : public torch::nn::Module {
 public:
  explicit WordEncoderModule(const WordTextEncoderConfig& config);
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& mask);
  const WordTextEncoderConfig& config() const { return config_; }

 private:
  WordTextEncoderConfig config_;
  torch::nn::Embedding token_embedding_{nullptr};
  at::Tensor position_embedding_;
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr};
};

class WordTextEncoder : public TextEncoder {
 public:
  static constexpr const char* kClassName = "WordTextEncoder";

  WordTextEncoder(WordTokenizer tokenizer, std::shared_ptr<WordEncoderModule> module);
  // text_encoder_dir: config.json + model.safetensors; tokenizer_dir: vocab.json + tokenizer_config.json.
  static std::unique_ptr<WordTextEncoder> load(const PartConfig& text_encoder, const std::string& tokenizer_dir,
                                               c10::Device device);
  // Writes config.json and model.safetensors into `text_encoder_dir` and the tokenizer into `tokenizer_dir`.
  void save(const std::string& text_encoder_dir, const std::string& tokenizer_dir) const;

  std::string class_name() const override { return kClassName; }
  void check_prompt(const std::string& prompt) const override { tokenizer_.word_ids(prompt); }
  PromptEmbeddings encode(const std::vector<std::string>& prompts) override;

  WordEncoderModule& module() { return *module_; }
  const WordTokenizer& tokenizer() const { return tokenizer_; }

 private:
  WordTokenizer tokenizer_;
  std::shared_ptr<WordEncoderModule> module_;
};

}  // namespace tessera
