// A model directory's weights (single file or sharded index) and load_weights into a torch module: names,
// dtypes and devices, and one clear error for missing, unexpected and wrongly shaped tensors.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/error_message.h"
#include "common/check.h"
#include "src/io/load_weights.h"
#include "src/io/safetensors.h"
#include "src/io/weight_source.h"
#include "src/models/layers.h"
#include "src/models/parameters.h"
#include "tests/parity/parity_check.h"
#include "tests/unit/scratch_dir.h"

namespace tessera::io {
namespace {

using testing::ScratchDir;
using tessera::testing::close_relative_to_scale;
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Parameters in nested modules and a list, a float buffer and an integer buffer.
struct TinyNet : torch::nn::Module {
  TinyNet() {
    proj = register_module("proj", torch::nn::Linear(4, 3));
    blocks = register_module("blocks",
                             torch::nn::ModuleList(torch::nn::Linear(3, 3), torch::nn::Linear(3, 2)));
    scale = register_buffer("scale", at::ones({3}));
    step = register_buffer("step", at::zeros({}, at::kLong));
  }
  torch::nn::Linear proj{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  at::Tensor scale;
  at::Tensor step;
};

// Weights for TinyNet, each distinct from the module's initial values.
NamedTensors tiny_net_weights() {
  const auto values = [](std::vector<int64_t> shape, double offset) {
    int64_t numel = 1;
    for (const int64_t dim : shape) numel *= dim;
    return (at::arange(numel, at::kFloat) * 0.25 + offset).reshape(shape);
  };
  return {{"proj.weight", values({3, 4}, 1)},     {"proj.bias", values({3}, 2)},
          {"blocks.0.weight", values({3, 3}, 3)}, {"blocks.0.bias", values({3}, 4)},
          {"blocks.1.weight", values({2, 3}, 5)}, {"blocks.1.bias", values({2}, 6)},
          {"scale", values({3}, 7)},              {"step", at::full({}, 42, at::kLong)}};
}

NamedTensors without(NamedTensors tensors, const std::string& name) {
  const auto named = [&](const auto& entry) { return entry.first == name; };
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(), named), tensors.end());
  return tensors;
}

NamedTensors replaced(NamedTensors tensors, const std::string& name, const at::Tensor& tensor) {
  for (auto& entry : tensors) {
    if (entry.first == name) entry.second = tensor;
  }
  return tensors;
}

at::Tensor tensor_named(torch::nn::Module& module, const std::string& name) {
  const auto parameters = module.named_parameters();
  if (const at::Tensor* parameter = parameters.find(name)) return *parameter;
  return module.named_buffers()[name];
}

// TinyNet's weights from index `begin` on, or before it: the contents of one shard.
NamedTensors tiny_net_weights_from(size_t begin) {
  const NamedTensors weights = tiny_net_weights();
  return NamedTensors(weights.begin() + begin, weights.end());
}
NamedTensors tiny_net_weights_before(size_t end) {
  const NamedTensors weights = tiny_net_weights();
  return NamedTensors(weights.begin(), weights.begin() + end);
}

class LoadWeightsTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return dir_.file(name); }
  void write_text(const std::string& name, const std::string& text) const {
    std::ofstream(file(name)) << text;
  }
  // The module's tensors hold exactly `weights`, as `dtype` where they are floating point.
  void expect_holds(TinyNet& net, const NamedTensors& weights, c10::ScalarType dtype) {
    for (const auto& [name, expected] : weights) {
      const at::Tensor actual = tensor_named(net, name);
      const c10::ScalarType expected_dtype = expected.is_floating_point() ? dtype : expected.scalar_type();
      EXPECT_EQ(actual.scalar_type(), expected_dtype) << name;
      EXPECT_TRUE(at::equal(actual.cpu(), expected.to(expected_dtype))) << name;
    }
  }

  ScratchDir dir_{"tessera_load_weights"};
};

TEST_F(LoadWeightsTest, LoadsASingleFileIntoTheModule) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"), tiny_net_weights());
  const WeightSource source = WeightSource::open_dir(dir_.path());
  EXPECT_EQ(source.origin(), file("diffusion_pytorch_model.safetensors"));
  EXPECT_EQ(source.names().size(), 8u);
  EXPECT_EQ(source.file_of("blocks.1.bias"), file("diffusion_pytorch_model.safetensors"));

  TinyNet net;
  const auto* weight_impl = net.proj->weight.unsafeGetTensorImpl();
  load_weights(net, source, at::kFloat, at::kCPU);
  expect_holds(net, tiny_net_weights(), at::kFloat);
  // The same parameter objects, still trainable: only their data changed.
  EXPECT_EQ(net.proj->weight.unsafeGetTensorImpl(), weight_impl);
  EXPECT_TRUE(net.proj->weight.requires_grad());
  EXPECT_EQ(net.step.item<int64_t>(), 42);
}

TEST_F(LoadWeightsTest, FloatingTensorsTakeTheRequestedDtypeOthersKeepTheirs) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"), tiny_net_weights());
  TinyNet net;
  load_weights(net, WeightSource::open_dir(dir_.path()), at::kBFloat16, at::kCPU);
  expect_holds(net, tiny_net_weights(), at::kBFloat16);
  EXPECT_EQ(net.scale.scalar_type(), at::kBFloat16);
  EXPECT_EQ(net.step.scalar_type(), at::kLong);
  EXPECT_EQ(net.blocks[1]->named_parameters()["weight"].scalar_type(), at::kBFloat16);
}

TEST_F(LoadWeightsTest, LoadsOntoCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  save_safetensors(file("diffusion_pytorch_model.safetensors"), tiny_net_weights());
  TinyNet net;
  load_weights(net, WeightSource::open_dir(dir_.path()), at::kBFloat16, at::Device(at::kCUDA, 0));
  EXPECT_TRUE(net.proj->weight.is_cuda());
  EXPECT_TRUE(net.step.is_cuda());
  expect_holds(net, tiny_net_weights(), at::kBFloat16);
}

TEST_F(LoadWeightsTest, AcceptsTheOnlySafetensorsFileWhateverItsName) {
  save_safetensors(file("model.safetensors"), tiny_net_weights());
  const WeightSource source = WeightSource::open_dir(dir_.path() + "/");
  EXPECT_EQ(source.origin(), file("model.safetensors"));
  TinyNet net;
  load_weights(net, source, at::kFloat, at::kCPU);
  expect_holds(net, tiny_net_weights(), at::kFloat);
}

TEST_F(LoadWeightsTest, ModuleWithoutABiasNeedsNone) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"), {{"weight", at::ones({2, 3})}});
  torch::nn::Linear linear(torch::nn::LinearOptions(3, 2).bias(false));
  load_weights(*linear, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU);
  EXPECT_TRUE(at::equal(linear->weight, at::ones({2, 3})));
}

TEST_F(LoadWeightsTest, SeveralSafetensorsFilesWithoutAnIndexAreAmbiguous) {
  save_safetensors(file("a.safetensors"), {});
  save_safetensors(file("b.safetensors"), {});
  const std::string message = message_of([&] { WeightSource::open_dir(dir_.path()); });
  EXPECT_TRUE(has(message, "holds several .safetensors files (a.safetensors, b.safetensors)")) << message;
}

TEST_F(LoadWeightsTest, NoWeightsSaysWhatWasLookedFor) {
  write_text("diffusion_pytorch_model.bin", "");
  const std::string message = message_of([&] { WeightSource::open_dir(dir_.path()); });
  EXPECT_TRUE(has(message, "no weights in model directory " + dir_.path())) << message;
  EXPECT_TRUE(has(message, "diffusion_pytorch_model.safetensors, diffusion_pytorch_model.safetensors.index.json, "
                           "or a single *.safetensors file"))
      << message;
  EXPECT_TRUE(has(message, ".bin/.pt weights are not read")) << message;
  EXPECT_TRUE(has(message_of([&] { WeightSource::open_dir(file("absent")); }), "does not exist"));
}

// Two shards and their index, as diffusers writes a sharded checkpoint.
class LoadWeightsShardedTest : public LoadWeightsTest {
 protected:
  static constexpr const char* kShard1 = "diffusion_pytorch_model-00001-of-00002.safetensors";
  static constexpr const char* kShard2 = "diffusion_pytorch_model-00002-of-00002.safetensors";
  static constexpr const char* kIndex = "diffusion_pytorch_model.safetensors.index.json";

  void SetUp() override {
    const NamedTensors weights = tiny_net_weights();
    save_safetensors(file(kShard1), tiny_net_weights_before(5));
    save_safetensors(file(kShard2), tiny_net_weights_from(5));
    std::string map;
    for (size_t i = 0; i < weights.size(); ++i) {
      map += (i ? ", \"" : "\"") + weights[i].first + "\": \"" + (i < 5 ? kShard1 : kShard2) + "\"";
    }
    index_text_ = "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {" + map + "}}";
    write_text(kIndex, index_text_);
  }

  std::string index_text_;
};

TEST_F(LoadWeightsShardedTest, ReadsTensorsFromTheirShards) {
  const WeightSource source = WeightSource::open_dir(dir_.path());
  EXPECT_EQ(source.origin(), file(kIndex));
  EXPECT_EQ(source.names().size(), 8u);
  EXPECT_EQ(source.file_of("proj.weight"), file(kShard1));
  EXPECT_EQ(source.file_of("step"), file(kShard2));
  EXPECT_EQ(source.info("blocks.1.weight").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(source.contains("blocks.1.bias"));
  EXPECT_FALSE(source.contains("blocks.2.bias"));
  EXPECT_TRUE(has(message_of([&] { source.load("nope"); }),
                  "weights " + file(kIndex) + " have no tensor 'nope'"));
  TinyNet net;
  load_weights(net, source, at::kFloat, at::kCPU);
  expect_holds(net, tiny_net_weights(), at::kFloat);
}

TEST_F(LoadWeightsShardedTest, MissingShard) {
  std::remove(file(kShard2).c_str());
  const std::string message = message_of([&] { WeightSource::open_dir(dir_.path()); });
  EXPECT_TRUE(has(message, "safetensors index " + file(kIndex))) << message;
  EXPECT_TRUE(has(message, "places 3 tensors (blocks.1.bias, scale, step) in shard " + std::string(kShard2) +
                           ", which does not exist"))
      << message;
}

TEST_F(LoadWeightsShardedTest, TensorListedInTheIndexButAbsentFromItsShard) {
  save_safetensors(file(kShard2), without(tiny_net_weights_from(5), "scale"));
  const std::string message = message_of([&] { WeightSource::open_dir(dir_.path()); });
  EXPECT_TRUE(has(message, "places 1 tensors in shard " + file(kShard2) + ", which does not hold them: scale"))
      << message;
}

TEST_F(LoadWeightsShardedTest, ShardHoldingATensorTheIndexDoesNotPlaceThere) {
  NamedTensors shard2 = tiny_net_weights_from(5);
  shard2.emplace_back("stray", at::zeros({1}));
  save_safetensors(file(kShard2), shard2);
  const std::string message = message_of([&] { WeightSource::open_dir(dir_.path()); });
  EXPECT_TRUE(has(message, "shard " + file(kShard2) + " holds 1 tensors that safetensors index")) << message;
  EXPECT_TRUE(has(message, "does not place there: stray")) << message;
}

// The index is data from the checkpoint: it must not send the reader to files outside the model directory,
// even files that exist and hold the very tensors it lists.
TEST_F(LoadWeightsShardedTest, ShardNamesMustStayInsideTheModelDirectory) {
  const std::string model = file("model");
  ASSERT_EQ(mkdir(model.c_str(), 0755), 0);
  const std::string outside2 = "../" + std::string(kShard2);
  const std::string shard1 = kShard1;
  for (const std::string& outside1 : {"../" + shard1, file(kShard1), "sub/../../" + shard1}) {
    std::string text = index_text_;
    const std::vector<std::pair<std::string, std::string>> renames = {{kShard1, outside1}, {kShard2, outside2}};
    for (const auto& [from, to] : renames) {
      for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
      }
    }
    write_text("model/" + std::string(kIndex), text);
    const std::string message = message_of([&] { WeightSource::open_dir(model); });
    EXPECT_TRUE(has(message, "which is not a file inside the model directory")) << message;
    EXPECT_TRUE(has(message, "names shard \"" + outside1 + "\"") || has(message, "names shard \"" + outside2 + "\""))
        << message;
  }
}

TEST_F(LoadWeightsShardedTest, MalformedIndex) {
  write_text(kIndex, "{\"weight_map\": [");
  EXPECT_TRUE(has(message_of([&] { WeightSource::open_dir(dir_.path()); }), "is not valid JSON"));
  write_text(kIndex, "{\"metadata\": {}}");
  EXPECT_TRUE(has(message_of([&] { WeightSource::open_dir(dir_.path()); }), "has no \"weight_map\" object"));
  write_text(kIndex, "{\"weight_map\": {\"proj.weight\": 3}}");
  EXPECT_TRUE(has(message_of([&] { WeightSource::open_dir(dir_.path()); }),
                  "\"weight_map\" entry 'proj.weight' must name a shard file"));
}

// --- load_weights errors: checked before anything is loaded, so the module is left as it was ---

TEST_F(LoadWeightsTest, MissingTensorIsNamed) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"), without(tiny_net_weights(), "blocks.1.bias"));
  TinyNet net;
  const at::Tensor before = net.proj->weight.clone();
  const std::string message =
      message_of([&] { load_weights(net, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(message, "weights " + file("diffusion_pytorch_model.safetensors") + " do not match"))
      << message;
  EXPECT_TRUE(has(message, "missing (1, in the module but not the weights): blocks.1.bias")) << message;
  EXPECT_FALSE(has(message, "unexpected")) << message;
  EXPECT_TRUE(at::equal(net.proj->weight, before)) << "a failed load leaves the module untouched";
}

TEST_F(LoadWeightsTest, ManyMissingTensorsAreCountedNotAllListed) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"), {});
  struct WideNet : torch::nn::Module {
    WideNet() {
      for (int i = 0; i < 12; ++i) register_module("layer" + std::to_string(i), torch::nn::Linear(2, 2));
    }
  } net;
  const std::string message =
      message_of([&] { load_weights(net, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(message, "missing (24, in the module but not the weights): layer0.weight, layer0.bias"))
      << message;
  EXPECT_TRUE(has(message, ", ... (24 in all)")) << message;
  EXPECT_FALSE(has(message, "layer11.bias")) << message;
}

TEST_F(LoadWeightsTest, UnexpectedTensorIsNamed) {
  NamedTensors weights = tiny_net_weights();
  weights.emplace_back("blocks.2.weight", at::zeros({2, 2}));
  save_safetensors(file("diffusion_pytorch_model.safetensors"), weights);
  TinyNet net;
  const std::string message =
      message_of([&] { load_weights(net, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(message, "unexpected (1, in the weights but not the module): blocks.2.weight")) << message;
  EXPECT_FALSE(has(message, "missing")) << message;
}

TEST_F(LoadWeightsTest, MissingAndUnexpectedInOneError) {
  NamedTensors weights = without(tiny_net_weights(), "scale");
  weights.emplace_back("scales", at::ones({3}));
  save_safetensors(file("diffusion_pytorch_model.safetensors"), weights);
  TinyNet net;
  const std::string message =
      message_of([&] { load_weights(net, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(message, "missing (1, in the module but not the weights): scale\n")) << message;
  EXPECT_TRUE(has(message, "unexpected (1, in the weights but not the module): scales")) << message;
}

TEST_F(LoadWeightsTest, ShapeMismatchNamesTensorFileAndBothShapes) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"),
                   replaced(tiny_net_weights(), "proj.weight", at::zeros({3, 5})));
  TinyNet net;
  const at::Tensor before = net.proj->bias.clone();
  const std::string message =
      message_of([&] { load_weights(net, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(message, "1 tensors have the wrong shape or dtype")) << message;
  EXPECT_TRUE(has(message, "tensor 'proj.weight' in " + file("diffusion_pytorch_model.safetensors") +
                           " has shape [3, 5], the module expects [3, 4]"))
      << message;
  EXPECT_TRUE(at::equal(net.proj->bias, before)) << "a failed load leaves the module untouched";
}

TEST_F(LoadWeightsTest, IntegerTensorForAFloatParameterIsRefusedNotConverted) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"),
                   replaced(tiny_net_weights(), "proj.bias", at::arange(3, at::kInt)));
  TinyNet net;
  const std::string message =
      message_of([&] { load_weights(net, WeightSource::open_dir(dir_.path()), at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(message, "tensor 'proj.bias' in " + file("diffusion_pytorch_model.safetensors") +
                           " is stored as Int, but the module's tensor is floating point"))
      << message;
}

// A model built for loading (parameters.h) has shape-only parameters; loading gives each its data in the dtype
// asked for it by name, through every handle to it.
struct MetaNet : torch::nn::Module {
  MetaNet() {
    first = register_module("first", std::make_shared<tessera::Linear>(4, 3));
    second = register_module("second", std::make_shared<tessera::Linear>(3, 2, /*bias=*/false));
  }
  std::shared_ptr<tessera::Linear> first, second;
};

TEST_F(LoadWeightsTest, ParametersBuiltOnTheMetaDeviceTakeTheirDataInTheirOwnDtype) {
  save_safetensors(file("diffusion_pytorch_model.safetensors"),
                   {{"first.weight", at::rand({3, 4})}, {"first.bias", at::rand({3})}, {"second.weight", at::rand({2, 3})}});
  std::shared_ptr<MetaNet> net;
  {
    tessera::MetaParameterScope shape_only;
    net = std::make_shared<MetaNet>();
  }
  EXPECT_FALSE(tessera::meta_parameters_active()) << "the scope ends with its block";
  for (const auto& parameter : net->parameters()) EXPECT_TRUE(parameter.is_meta());
  const auto dtype_of = [](const std::string& name) { return name == "second.weight" ? at::kBFloat16 : at::kFloat; };
  const WeightSource source = WeightSource::open_dir(dir_.path());
  load_weights(*net, source, dtype_of, at::kCPU);
  const auto parameters = net->named_parameters();
  for (const auto& item : parameters) {
    EXPECT_FALSE(item.value().is_meta()) << item.key();
    EXPECT_EQ(item.value().scalar_type(), dtype_of(item.key())) << item.key();
    EXPECT_TRUE(at::equal(item.value(), source.load(item.key()).to(dtype_of(item.key())))) << item.key();
  }
  const at::Tensor input = at::rand({5, 4});
  const at::Tensor expected = at::linear(at::linear(input, parameters["first.weight"], parameters["first.bias"]),
                                         parameters["second.weight"].to(at::kFloat));
  const at::Tensor actual = net->second->forward(net->first->forward(input).to(at::kBFloat16));
  EXPECT_TRUE(close_relative_to_scale(actual.to(at::kFloat), expected, 5e-2)) << "the modules' own handles see the data";
}

}  // namespace
}  // namespace tessera::io
