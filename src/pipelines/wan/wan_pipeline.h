#pragma once
// diffusers' WanPipeline (Wan2.1 text-to-video): UMT5, WanTransformer3DModel, UniPC or flow-matching Euler, the Wan
// VAE, classifier-free guidance. The Wan2.2 variants a published folder may hold are refused before loading.
#include <cstdint>
#include <string>

#include "src/pipelines/pipeline.h"

namespace tessera {

class WanPipeline : public Pipeline {
 public:
  static constexpr const char* kClassName = "WanPipeline";

 protected:
  void check_index(const PipelineIndex& index) const override;
  std::string transformer_class() const override;
  LatentLayout prepare(const PipelineIndex& index) override;

  // The layout of a Wan transformer whose input has `extra_channels` channels beyond the latents (a family built
  // on Wan that appends its own inputs to the latents).
  LatentLayout wan_layout(const PipelineIndex& index, int64_t extra_channels, const std::string& extra_what) const;
};

}  // namespace tessera
