#include "src/tiny/tiny_dit.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/container/modulelist.h>

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

namespace tessera {
namespace {

int64_t read_size(const nlohmann::json& config, const char* key, int64_t fallback) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  const int64_t max = std::string(key) == "num_layers" ? kMaxConfigLayers : kMaxConfigDimension;
  return io::json_integer<int64_t>(*it, std::string("TinyDiTModel config \"") + key + "\"", 1, max);
}

at::Tensor normalized(const at::Tensor& x, int64_t hidden_size) { return at::layer_norm(x, {hidden_size}); }

}  // namespace

TinyDiTConfig tiny_dit_config_from_json(const nlohmann::json& config) {
  TinyDiTConfig result;
  result.in_channels = read_size(config, "in_channels", result.in_channels);
  result.out_channels = read_size(config, "out_channels", result.in_channels);
  result.hidden_size = read_size(config, "hidden_size", result.hidden_size);
  result.num_layers = read_size(config, "num_layers", result.num_layers);
  result.num_attention_heads = read_size(config, "num_attention_heads", result.num_attention_heads);
  result.ffn_dim = read_size(config, "ffn_dim", result.ffn_dim);
  TESSERA_CHECK(result.hidden_size % result.num_attention_heads == 0, "config \"hidden_size\" (",
                result.hidden_size, ") must be a multiple of \"num_attention_heads\" (", result.num_attention_heads,
                ")");
  return result;
}

TinyAttention::TinyAttention(int64_t hidden_size, int64_t num_heads) : num_heads_(num_heads) {
  to_q_ = register_module("to_q", torch::nn::Linear(hidden_size, hidden_size));
  to_k_ = register_module("to_k", torch::nn::Linear(hidden_size, hidden_size));
  to_v_ = register_module("to_v", torch::nn::Linear(hidden_size, hidden_size));
  to_out_ = register_module("to_out", torch::nn::Linear(hidden_size, hidden_size));
}

Outputs TinyAttention::forward_impl(Args& args) {
  const at::Tensor& x = args.tensor("hidden_states");
  const int64_t batch = x.size(0), seq = x.size(1), hidden = x.size(2);
  // [batch, seq, hidden] -> [batch, heads, seq, head_dim], the layout scaled_dot_product_attention takes.
  auto heads = [&](const at::Tensor& t) {
    return t.view({batch, seq, num_heads_, hidden / num_heads_}).transpose(1, 2);
  };
  const at::Tensor attended =
      at::scaled_dot_product_attention(heads(to_q_(x)), heads(to_k_(x)), heads(to_v_(x)));
  return {to_out_(attended.transpose(1, 2).reshape({batch, seq, hidden}))};
}

TinyFeedForward::TinyFeedForward(int64_t hidden_size, int64_t ffn_dim) {
  proj_in_ = register_module("proj_in", torch::nn::Linear(hidden_size, ffn_dim));
  proj_out_ = register_module("proj_out", torch::nn::Linear(ffn_dim, hidden_size));
}

Outputs TinyFeedForward::forward_impl(Args& args) {
  return {proj_out_(at::gelu(proj_in_(args.tensor("hidden_states")), "tanh"))};
}

TinyDiTBlock::TinyDiTBlock(int64_t hidden_size, int64_t num_heads, int64_t ffn_dim) : hidden_size_(hidden_size) {
  attn1_ = register_module("attn1", std::make_shared<TinyAttention>(hidden_size, num_heads));
  ff_ = register_module("ff", std::make_shared<TinyFeedForward>(hidden_size, ffn_dim));
}

Outputs TinyDiTBlock::forward_impl(Args& args) {
  at::Tensor x = args.tensor("hidden_states");
  x = x + (*attn1_)({{"hidden_states", normalized(x, hidden_size_)}}).at(0);
  x = x + (*ff_)({{"hidden_states", normalized(x, hidden_size_)}}).at(0);
  return {x};
}

TinyDiTModel::TinyDiTModel(TinyDiTConfig config) : config_(config) {
  proj_in_ = register_module("proj_in", torch::nn::Linear(config_.in_channels, config_.hidden_size));
  auto blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    blocks_.push_back(
        std::make_shared<TinyDiTBlock>(config_.hidden_size, config_.num_attention_heads, config_.ffn_dim));
    blocks->push_back(blocks_.back());
  }
  proj_out_ = register_module("proj_out", torch::nn::Linear(config_.hidden_size, config_.out_channels));
}

ModelCapabilities TinyDiTModel::capabilities() const {
  ModelCapabilities declared;
  declared.supports_cache = true;
  declared.cp_plan = {{"", "split hidden_states along dim 1 (sequence)"},
                      {"proj_out", "gather output 0 along dim 1 (sequence)"}};
  declared.no_split_modules = {"TinyDiTBlock"};
  declared.repeated_blocks = {"TinyDiTBlock"};
  declared.dtypes = {"float32", "bfloat16"};
  declared.inputs = {"hidden_states"};
  return declared;
}

std::vector<std::pair<std::string, std::string>> TinyDiTModel::config_entries() const {
  return {{"in_channels", std::to_string(config_.in_channels)},
          {"out_channels", std::to_string(config_.out_channels)},
          {"hidden_size", std::to_string(config_.hidden_size)},
          {"num_layers", std::to_string(config_.num_layers)},
          {"num_attention_heads", std::to_string(config_.num_attention_heads)},
          {"ffn_dim", std::to_string(config_.ffn_dim)}};
}

Outputs TinyDiTModel::forward_impl(Args& args) {
  const at::Tensor& input = args.tensor("hidden_states");
  TESSERA_CHECK(input.dim() == 3 && input.size(2) == config_.in_channels, kClassName,
                " takes hidden_states of shape [batch, seq, ", config_.in_channels, "], got ", input.sizes());
  at::Tensor x = proj_in_(input);
  for (const auto& block : blocks_) x = (*block)({{"hidden_states", x}}).at(0);
  return {proj_out_(normalized(x, config_.hidden_size))};
}

}  // namespace tessera
