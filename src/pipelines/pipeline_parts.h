#pragma once
// The parts of a pipeline folder tessera can load, chosen by the class model_index.json names for each, and
// checked against the class the part's own config gives.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>

#include "src/models/part_config.h"

namespace tessera {

struct PipelineIndex;
class Communicator;
class LatentDecoder;
class TextEncoder;

// A part's folder with its config.json, read once here and handed to the part's loader. The class its config
// names (diffusers' "_class_name", or transformers' "architectures") must be the one model_index.json lists; the
// error names both and the folder otherwise.
PartConfig checked_part(const PipelineIndex& index, const std::string& part);

// The text encoder with its tokenizer (parts "text_encoder" and "tokenizer"), in `dtype` on `device`. With a
// `shard_group` (--shard-weights), the encoders' weights (UMT5; FLUX's CLIP and T5) are sharded across it, and every
// rank of the group must load; the embedded model's word table stays whole.
std::unique_ptr<TextEncoder> load_text_encoder(const PipelineIndex& index, c10::ScalarType dtype, c10::Device device,
                                               std::shared_ptr<Communicator> shard_group = nullptr);

// The decoder (part "vae") on `device`. Kept in fp32 whatever the transformer's dtype, as the Wan examples keep
// the VAE: it is small, and its output is the picture.
std::unique_ptr<LatentDecoder> load_decoder(const PipelineIndex& index, c10::Device device);

}  // namespace tessera
