#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>

#include "src/models/model.h"
#include "src/models/part_config.h"
#include "src/models/weight_storage.h"

namespace tessera {

class Communicator;

// The model of a diffusers directory (config.json + safetensors weights, single or sharded), with its
// weights loaded, in `dtype` on `device`, in eval mode. Errors name the directory, file and tensor. With a
// `shard_group`, the rank loads only its share of each parameter and the model gathers each block's weights from
// the group as it runs (load_sharded.h); every rank of the group must load it. The weights are stored as `storage`
// says (store_weights); sharded, the FP8 layers keep FP8 shares (sharded_fp8.h).
std::shared_ptr<Model> load_model(const PartConfig& model_dir, c10::ScalarType dtype, c10::Device device,
                                  std::shared_ptr<Communicator> shard_group = nullptr,
                                  WeightStorage storage = WeightStorage::full);

// "fp32" / "float32", "bf16" / "bfloat16", "fp16" / "float16"; anything else is an error naming the choices.
c10::ScalarType parse_dtype(const std::string& name);

}  // namespace tessera
