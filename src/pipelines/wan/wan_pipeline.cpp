#include "src/pipelines/wan/wan_pipeline.h"

#include <algorithm>

#include "common/check.h"
#include "src/models/latent_decoder.h"
#include "src/models/wan/wan_transformer.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera {

void WanPipeline::check_index(const PipelineIndex& index) const {
  TESSERA_CHECK(index.parts.count("transformer_2") == 0, index.dir, "/model_index.json has a transformer_2: a Wan2.2 ",
                "two-expert checkpoint, which tessera does not run yet; use a Wan2.1 checkpoint");
  TESSERA_CHECK(!index.config.value("expand_timesteps", false), index.dir, "/model_index.json sets expand_timesteps ",
                "(Wan2.2 TI2V), which tessera does not run yet; use a Wan2.1 checkpoint");
}

std::string WanPipeline::transformer_class() const { return WanTransformer3DModel::kClassName; }

Pipeline::LatentLayout WanPipeline::wan_layout(const PipelineIndex& index, int64_t extra_channels,
                                              const std::string& extra_what) const {
  auto* wan = dynamic_cast<WanTransformer3DModel*>(transformer_.get());
  TESSERA_INTERNAL_ASSERT(wan != nullptr, "the transformer folder's class was checked");
  const auto& config = wan->config();
  const int64_t channels = config.in_channels - extra_channels;
  TESSERA_CHECK(channels == decoder_->latent_channels() && config.out_channels == decoder_->latent_channels(),
                "the transformer in ", index.part_dir("transformer"), " takes ", config.in_channels, " channels",
                extra_channels > 0 ? " (with " + std::to_string(extra_channels) + " " + extra_what + ")" : "",
                " and gives ", config.out_channels, ", but the decoder reads ", decoder_->latent_channels());
  return {.channels = channels,
          .size_multiple = decoder_->spatial_scale() * std::max(config.patch_size[1], config.patch_size[2])};
}

Pipeline::LatentLayout WanPipeline::prepare(const PipelineIndex& index) { return wan_layout(index, 0, ""); }

}  // namespace tessera
