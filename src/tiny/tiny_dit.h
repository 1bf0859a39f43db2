#pragma once
// A small but complete diffusion transformer (patch projection, attention + feed-forward blocks, output
// projection) built from hookable modules. It is the model the hook, plan and metadata tests run on, and
// the class `tessera describe` knows until the real models arrive; it has no diffusers counterpart.
#include <nlohmann/json_fwd.hpp>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "hooks/block_stack.h"
#include "src/models/model.h"

namespace tessera {

struct TinyDiTConfig {
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  int64_t hidden_size = 32;
  int64_t num_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t ffn_dim = 64;
};

// Missing keys keep their defaults ("out_channels" defaults to "in_channels"); a key of the wrong type or
// an inconsistent size throws naming the key.
TinyDiTConfig tiny_dit_config_from_json(const nlohmann::json& config);

// Self-attention over the sequence: hidden_states [batch, seq, hidden] -> output 0 of the same shape.
class TinyAttention : public Module {
 public:
  TinyAttention(int64_t hidden_size, int64_t num_heads);
  ModuleRole role() const override { return ModuleRole::self_attention; }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  int64_t num_heads_;
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, to_out_{nullptr};
};

class TinyFeedForward : public Module {
 public:
  TinyFeedForward(int64_t hidden_size, int64_t ffn_dim);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  torch::nn::Linear proj_in_{nullptr}, proj_out_{nullptr};
};

// Pre-norm residual block: x + attn1(norm(x)), then x + ff(norm(x)).
class TinyDiTBlock : public Module {
 public:
  TinyDiTBlock(int64_t hidden_size, int64_t num_heads, int64_t ffn_dim);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  int64_t hidden_size_;
  std::shared_ptr<TinyAttention> attn1_;
  std::shared_ptr<TinyFeedForward> ff_;
};

// hidden_states [batch, seq, in_channels] -> output 0 [batch, seq, out_channels].
class TinyDiTModel : public Model, public DeclaresBlockStack {
 public:
  static constexpr const char* kClassName = "TinyDiTModel";

  explicit TinyDiTModel(TinyDiTConfig config = {});

  std::string class_name() const override { return kClassName; }
  ModelCapabilities capabilities() const override;
  std::vector<std::pair<std::string, std::string>> config_entries() const override;
  const TinyDiTConfig& config() const { return config_; }
  // "blocks.N", each returning hidden_states: what the step caches hook.
  std::vector<BlockGroup> block_stack() const override { return {{.pattern = "blocks.*", .streams = {}}}; }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  TinyDiTConfig config_;
  torch::nn::Linear proj_in_{nullptr}, proj_out_{nullptr};
  std::vector<std::shared_ptr<TinyDiTBlock>> blocks_;
};

}  // namespace tessera
