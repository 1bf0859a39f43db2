#include "src/io/load_weights.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/join.h"
#include "common/check.h"

namespace tessera::io {
namespace {

constexpr size_t kListed = 10;  // error messages list this many entries, then a count

// "a, b, c", at most kListed of them, then "... (N in all)".
std::string name_list(const std::vector<std::string>& names) { return join_first(names, kListed); }

// One indented line per entry, at most kListed of them, then "... (N in all)".
std::string line_list(const std::vector<std::string>& lines) {
  std::string text;
  for (size_t i = 0; i < lines.size() && i < kListed; ++i) text += "\n  " + lines[i];
  if (lines.size() > kListed) text += "\n  ... (" + std::to_string(lines.size()) + " in all)";
  return text;
}

// A meta tensor (parameters.h) cannot take data through set_data, which refuses to change the backend; its
// TensorImpl takes the loaded one's storage and metadata directly, so every handle to it sees the data.
void assign(at::Tensor& target, const at::Tensor& loaded) {
  if (target.is_meta()) {
    target.unsafeGetTensorImpl()->shallow_copy_from(loaded.getIntrusivePtr());
  } else {
    target.set_data(loaded);
  }
}

}  // namespace

void load_weights(torch::nn::Module& module, const WeightSource& source, c10::ScalarType dtype,
                  c10::Device device) {
  load_weights(module, source, [dtype](const std::string&) { return dtype; }, device);
}

void load_weights(torch::nn::Module& module, const WeightSource& source, const DtypeOf& dtype_of,
                  c10::Device device) {
  load_weights(module, source, dtype_of, device, {});
}

void load_weights(torch::nn::Module& module, const WeightSource& source, const DtypeOf& dtype_of,
                  c10::Device device, const std::map<std::string, LocalPiece>& shares) {
  // Undefined tensors (a bias a module was built without) have nothing to load, as in PyTorch's state_dict.
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (item.value().defined()) targets.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (item.value().defined()) targets.emplace_back(item.key(), item.value());
  }

  std::set<std::string> needed;
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : targets) {
    needed.insert(name);
    if (!source.contains(name)) missing.push_back(name);
  }
  std::vector<std::string> unexpected;
  for (const std::string& name : source.names()) {
    if (needed.count(name) == 0) unexpected.push_back(name);
  }
  std::vector<std::string> name_problems;
  if (!missing.empty()) {
    name_problems.push_back("missing (" + std::to_string(missing.size()) +
                            ", in the module but not the weights): " + name_list(missing));
  }
  if (!unexpected.empty()) {
    name_problems.push_back("unexpected (" + std::to_string(unexpected.size()) +
                            ", in the weights but not the module): " + name_list(unexpected));
  }
  TESSERA_CHECK(name_problems.empty(), "weights ", source.origin(), " do not match the module's tensors:",
                line_list(name_problems));

  std::vector<std::string> wrong;
  for (const auto& [name, tensor] : targets) {
    const TensorInfo& info = source.info(name);
    if (tensor.sizes() != c10::IntArrayRef(info.shape)) {
      wrong.push_back("tensor '" + name + "' in " + source.file_of(name) + " has shape " +
                      c10::str(c10::IntArrayRef(info.shape)) + ", the module expects " + c10::str(tensor.sizes()));
    }
    if (at::isFloatingType(tensor.scalar_type()) && !at::isFloatingType(info.dtype)) {
      wrong.push_back("tensor '" + name + "' in " + source.file_of(name) + " is stored as " +
                      std::string(c10::toString(info.dtype)) + ", but the module's tensor is floating point");
    }
  }
  TESSERA_CHECK(wrong.empty(), "weights ", source.origin(), ": ", wrong.size(),
                " tensors have the wrong shape or dtype:", line_list(wrong));

  // set_data swaps the storage under the existing tensor objects, so parameters keep their identity (and
  // requires_grad) and whatever holds them sees the new values; no grad: loading is not part of a graph.
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : targets) {
    if (const auto share = shares.find(name); share != shares.end()) {
      LocalPiece piece = share->second;
      source.load_elements_into(name, piece.begin, piece.destination);
      continue;
    }
    const bool floating = at::isFloatingType(tensor.scalar_type());
    assign(tensor, source.load(name, floating ? dtype_of(name) : tensor.scalar_type(), device));
  }
}

}  // namespace tessera::io
