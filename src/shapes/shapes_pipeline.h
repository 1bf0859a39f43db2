#pragma once
// The embedded default model's pipeline (models/tessera-shapes/, model_index.json "TesseraShapesPipeline"): a
// pixel-space Wan transformer with three coordinate channels appended to its input (coordinate_channels.h), a
// word text encoder and the identity decoder. A prompt that names motion ("moving") asks for a clip: without a
// frame count it gets the folder's "motion_frames" instead of "frames".
#include <cstdint>
#include <string>
#include <vector>

#include "src/pipelines/wan/wan_pipeline.h"

namespace tessera {

class TesseraShapesPipeline : public WanPipeline {
 public:
  static constexpr const char* kClassName = "TesseraShapesPipeline";

 protected:
  LatentLayout prepare(const PipelineIndex& index) override;
  int64_t default_frames(const GenerationRequest& request) const override;

 private:
  std::vector<std::string> motion_words_;
  int64_t motion_frames_ = 0;
};

}  // namespace tessera
