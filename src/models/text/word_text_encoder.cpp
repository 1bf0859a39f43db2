#include "src/models/text/word_text_encoder.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/linear.h>

#include <cmath>

#include "common/atomic_file.h"
#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"
#include "src/io/load_weights.h"
#include "src/io/safetensors.h"
#include "src/models/load_part.h"

namespace tessera {
namespace {

// One pre-norm transformer layer over the words: self-attention (padding keys masked), then a GELU MLP.
class WordEncoderLayer : public torch::nn::Module {
 public:
  WordEncoderLayer(int64_t dim, int64_t heads) : heads_(heads) {
    norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    to_qkv_ = register_module("to_qkv", torch::nn::Linear(dim, 3 * dim));
    to_out_ = register_module("to_out", torch::nn::Linear(dim, dim));
    norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    fc1_ = register_module("fc1", torch::nn::Linear(dim, 4 * dim));
    fc2_ = register_module("fc2", torch::nn::Linear(4 * dim, dim));
  }

  // x [B, L, dim]; key_bias [B, 1, 1, L]: 0 on words, a large negative number on padding.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_bias) {
    const auto qkv = to_qkv_(norm1_(x)).unflatten(2, {3, heads_, -1}).permute({2, 0, 3, 1, 4});  // [3, B, h, L, d]
    const at::Tensor attended =
        at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], key_bias).transpose(1, 2).flatten(2);
    const at::Tensor h = x + to_out_(attended);
    return h + fc2_(at::gelu(fc1_(norm2_(h)), "tanh"));
  }

 private:
  int64_t heads_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear to_qkv_{nullptr}, to_out_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};

int64_t config_int(const nlohmann::json& config, const char* key, const std::string& dir) {
  const auto found = config.find(key);
  TESSERA_CHECK(found != config.end(), dir, "/config.json needs a positive integer \"", key, "\"");
  const int64_t max = std::string(key) == "num_layers" ? kMaxConfigLayers : kMaxConfigDimension;
  return io::json_integer<int64_t>(*found, dir + "/config.json \"" + key + "\"", 1, max);
}

}  // namespace

WordEncoderModule::WordEncoderModule(const WordTextEncoderConfig& config) : config_(config) {
  TESSERA_CHECK(config.vocab_size > 1 && config.dim % config.num_heads == 0, "bad word encoder config: vocab ",
                config.vocab_size, ", dim ", config.dim, ", heads ", config.num_heads);
  token_embedding_ = register_module("token_embedding", torch::nn::Embedding(config.vocab_size, config.dim));
  position_embedding_ =
      register_parameter("position_embedding", at::randn({config.max_length, config.dim}) * 0.02);
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers_->push_back(std::make_shared<WordEncoderLayer>(config.dim, config.num_heads));
  }
  final_norm_ = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.dim})));
}

at::Tensor WordEncoderModule::forward(const at::Tensor& ids, const at::Tensor& mask) {
  TESSERA_CHECK(ids.dim() == 2 && ids.size(1) == config_.max_length, "word encoder takes ids [batch, ",
                config_.max_length, "], got ", ids.sizes());
  at::Tensor x = token_embedding_(ids) + position_embedding_;
  // A large finite bias rather than -inf: the empty prompt masks every key, and must not produce NaN.
  const at::Tensor key_bias =
      at::where(mask, 0.0, -1e4).to(x.scalar_type()).view({ids.size(0), 1, 1, ids.size(1)});
  for (const auto& layer : *layers_) x = layer->as<WordEncoderLayer>()->forward(x, key_bias);
  return final_norm_(x) * mask.unsqueeze(-1).to(x.scalar_type());
}

WordTextEncoder::WordTextEncoder(WordTokenizer tokenizer, std::shared_ptr<WordEncoderModule> module)
    : tokenizer_(std::move(tokenizer)), module_(std::move(module)) {
  TESSERA_CHECK(tokenizer_.vocab_size() == module_->config().vocab_size &&
                    tokenizer_.max_length() == module_->config().max_length,
                "the tokenizer (", tokenizer_.vocab_size(), " ids, length ", tokenizer_.max_length(),
                ") does not match the text encoder (", module_->config().vocab_size, " ids, length ",
                module_->config().max_length, ")");
}

std::unique_ptr<WordTextEncoder> WordTextEncoder::load(const PartConfig& text_encoder,
                                                       const std::string& tokenizer_dir, c10::Device device) {
  text_encoder.check_class(kClassName);
  const nlohmann::json& config = text_encoder.json();
  const std::string& text_encoder_dir = text_encoder.dir();
  WordTextEncoderConfig parsed;
  parsed.vocab_size = config_int(config, "vocab_size", text_encoder_dir);
  parsed.max_length = config_int(config, "max_length", text_encoder_dir);
  parsed.dim = config_int(config, "dim", text_encoder_dir);
  parsed.num_layers = config_int(config, "num_layers", text_encoder_dir);
  parsed.num_heads = config_int(config, "num_heads", text_encoder_dir);
  auto module = load_part([&parsed] { return std::make_shared<WordEncoderModule>(parsed); },
                          io::WeightSource::open_dir(text_encoder_dir), at::kFloat, device);
  return std::make_unique<WordTextEncoder>(WordTokenizer::load(tokenizer_dir), std::move(module));
}

void WordTextEncoder::save(const std::string& text_encoder_dir, const std::string& tokenizer_dir) const {
  const auto& config = module_->config();
  const nlohmann::ordered_json json = {{"_class_name", kClassName},      {"vocab_size", config.vocab_size},
                                       {"max_length", config.max_length}, {"dim", config.dim},
                                       {"num_layers", config.num_layers}, {"num_heads", config.num_heads}};
  write_file_atomically(text_encoder_dir + "/config.json", json.dump(2) + "\n");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : module_->named_parameters(true)) tensors.emplace_back(item.key(), item.value().detach());
  io::save_safetensors(text_encoder_dir + "/model.safetensors", tensors);
  tokenizer_.save(tokenizer_dir);
}

PromptEmbeddings WordTextEncoder::encode(const std::vector<std::string>& prompts) {
  const TokenizedPrompts tokens = tokenizer_.tokenize(prompts);
  const c10::Device device = module_->parameters().front().device();
  const at::Tensor ids = tokens.ids.to(device), mask = tokens.mask.to(device);
  return {.embeddings = module_->forward(ids, mask), .mask = mask, .pooled = {}};
}

}  // namespace tessera
