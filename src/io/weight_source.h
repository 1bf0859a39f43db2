#pragma once
// A model's weights as one name -> tensor table, whether the diffusers directory holds a single safetensors
// file or a sharded checkpoint (an index.json whose "weight_map" names the shard holding each tensor).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/io/safetensors.h"

namespace tessera::io {

class WeightSource {
 public:
  // The weights in a diffusers model directory, found in this order:
  //   diffusion_pytorch_model.safetensors, diffusion_pytorch_model.safetensors.index.json,
  //   the only *.safetensors.index.json, the only *.safetensors.
  // Throws saying what was looked for when none is there, and naming the index and shard when a sharded
  // checkpoint is inconsistent (a missing shard, a tensor the index lists but its shard lacks).
  static WeightSource open_dir(const std::string& dir);
  // The weights in one safetensors file.
  static WeightSource open_file(const std::string& path);

  // What the weights were read from: the safetensors file, or the index of a sharded checkpoint.
  const std::string& origin() const { return origin_; }
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return file_index_.count(name) != 0; }
  // Each throws naming origin() when there is no tensor `name`.
  const TensorInfo& info(const std::string& name) const;
  // As SafetensorsFile::load, from whichever file holds the tensor.
  at::Tensor load(const std::string& name, std::optional<c10::ScalarType> dtype = std::nullopt,
                  c10::Device device = c10::Device(c10::kCPU)) const;
  // As SafetensorsFile::load_elements_into, from whichever file holds the tensor.
  void load_elements_into(const std::string& name, int64_t begin, at::Tensor& destination) const;
  // The path of the file holding the tensor.
  const std::string& file_of(const std::string& name) const;
  // Leaves out the tensor `name`, if there is one, so that loading neither needs nor rejects it: a tied
  // duplicate a checkpoint stores twice (transformers' "encoder.embed_tokens.weight" beside "shared.weight").
  void forget(const std::string& name) { file_index_.erase(name); }
  // Leaves out every tensor whose name starts with none of `prefixes`: the part of a checkpoint a model loads
  // alone (an autoencoder's decoder, "decoder.", without its encoder).
  void keep_only_prefixes(const std::vector<std::string>& prefixes);

 private:
  WeightSource() = default;
  static WeightSource open_index(const std::string& index_path);
  const SafetensorsFile& file_holding(const std::string& name) const;

  std::string origin_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> file_index_;  // tensor name -> index into files_
};

}  // namespace tessera::io
