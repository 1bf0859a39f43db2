#include "src/models/load_model.h"

#include <optional>

#include "common/check.h"
#include "parallel/communicator.h"
#include "src/models/load_part.h"
#include "src/models/load_sharded.h"
#include "src/models/model_registry.h"
#include "src/models/sharded_fp8.h"

namespace tessera {

std::shared_ptr<Model> load_model(const PartConfig& model_dir, c10::ScalarType dtype, c10::Device device,
                                  std::shared_ptr<Communicator> shard_group, WeightStorage storage) {
  // Each weight read straight from the checkpoint into the dtype the model keeps it in, whatever the
  // checkpoint's dtype.
  std::shared_ptr<Model> model;
  const io::DtypeOf dtype_of([&model, dtype](const std::string& name) { return model->parameter_dtype(name, dtype); });
  const io::WeightSource source = io::WeightSource::open_dir(model_dir.dir());
  if (shard_group == nullptr) {
    load_part([&] { return model = create_model_from_dir(model_dir); }, source, dtype_of, device);
    store_weights(*model, storage);
    return model;
  }
  {
    WeightlessLoadScope shape_only;  // built and put in eval mode; the shares are read below
    load_part([&] { return model = create_model_from_dir(model_dir); }, source, dtype_of, device);
  }
  // FP8 storage decides which shares are kept in FP8 before they are laid out and read.
  std::optional<ShardedFp8Storage> fp8;
  if (storage != WeightStorage::full) fp8.emplace(*model, storage, dtype_of);
  load_sharded_weights(*model, source, dtype_of, device, std::move(shard_group), fp8 ? &*fp8 : nullptr);
  if (fp8) fp8->hook(*model);
  return model;
}

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return c10::ScalarType::Float;
  if (name == "bf16" || name == "bfloat16") return c10::ScalarType::BFloat16;
  if (name == "fp16" || name == "float16") return c10::ScalarType::Half;
  TESSERA_CHECK(false, "unknown dtype '", name, "'; use fp32, bf16 or fp16");
}

}  // namespace tessera
