#pragma once
#include "hooks/module.h"
#include "src/models/layers.h"

namespace tessera {

// diffusers' FluxAttention with FluxAttnProcessor ("attn"): per-head RMS norms on q and k, rotary embedding,
// and one attention over the joint sequence [text, image].
// Double-stream form (joint = true): the image tokens project through to_q/k/v, the text tokens through
// add_q/k/v_proj (norm_added_q/k); the result splits back into the image part (to_out.0) and the text part
// (to_add_out). Single-stream form (pre_only = true): hidden_states already holds [text, image]; the attended
// heads come back without an output projection (the block's proj_out does that).
// Arguments: hidden_states [B, S, dim]; encoder_hidden_states [B, L, dim] (double-stream only); freqs_cos,
// freqs_sin [L + S, head_dim]. Outputs: 0 hidden_states [B, S, dim]; 1 encoder_hidden_states [B, L, dim]
// (double-stream only).
// Under context parallelism each rank holds a shard of the text and of the image tokens; the attention is
// sequence-parallel, and the order in which the gathered shards interleave does not matter (no mask, and
// every token carries its own rotary phase).
class FluxAttention : public Module {
 public:
  struct Shape {
    int64_t dim;
    int64_t heads;
    int64_t head_dim;
  };
  enum class Form { double_stream, single_stream };
  FluxAttention(Shape shape, Form form, double eps);
  // Joint attention over text and image tokens: self-attention for the caches that hook it (PAB, FasterCache).
  ModuleRole role() const override { return ModuleRole::self_attention; }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  at::Tensor heads(Linear& projection, const RmsNorm* norm, const at::Tensor& x) const;

  Shape shape_;
  Form form_;
  std::shared_ptr<Linear> to_q_, to_k_, to_v_, to_out_;
  std::shared_ptr<RmsNorm> norm_q_, norm_k_;
  // Double-stream only: the text tokens' projections.
  std::shared_ptr<Linear> add_q_proj_, add_k_proj_, add_v_proj_, to_add_out_;
  std::shared_ptr<RmsNorm> norm_added_q_, norm_added_k_;
};

}  // namespace tessera
