#include "src/shapes/shapes_pipeline.h"

#include "common/check.h"
#include "src/io/json_integer.h"
#include "src/models/model.h"
#include "src/models/text/prompt_words.h"
#include "src/pipelines/pipeline_index.h"
#include "src/shapes/coordinate_channels.h"

namespace tessera {

Pipeline::LatentLayout TesseraShapesPipeline::prepare(const PipelineIndex& index) {
  const bool coordinates = index.config.value("coordinate_channels", false);
  const LatentLayout layout = wan_layout(index, coordinates ? kCoordinateChannels : 0, "coordinate channels");
  if (coordinates) enable_coordinate_channels(*transformer_);
  if (const auto defaults = index.config.find("defaults"); defaults != index.config.end() && defaults->is_object()) {
    const std::string where = index.dir + "/model_index.json \"defaults\"";
    if (const auto frames = defaults->find("motion_frames"); frames != defaults->end()) {
      motion_frames_ = io::json_integer<int64_t>(*frames, where + " \"motion_frames\"", 0);
    }
    try {
      motion_words_ = defaults->value("motion_words", std::vector<std::string>{});
    } catch (const nlohmann::json::exception& error) {
      TESSERA_CHECK(false, where, " \"motion_words\" must be a list of words: ", error.what());
    }
  }
  return layout;
}

int64_t TesseraShapesPipeline::default_frames(const GenerationRequest& request) const {
  const bool motion = motion_frames_ > 0 && mentions_any_word(request.prompt, motion_words_);
  return motion ? motion_frames_ : defaults_.frames;
}

}  // namespace tessera
