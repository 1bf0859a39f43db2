// Weights sharded across the ranks of a generation (--shard-weights, issue 25): every rank keeps its share of each
// parameter and gathers a block's just before it runs. The gathered weights are the same bits, so the output must be
// bit-identical (at::equal) to the unsharded model's under the same strategy: at 1 to 4 ranks, with uneven shares
// and tensors smaller than the group, under Ulysses, Ring, USP and CFG-parallel, with a step cache, on the Wan and
// FLUX fixtures and the embedded pipeline; and so with FP8 storage (--weights fp8, fp8-scaled) sharded.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "common/check.h"
#include "hooks/module.h"
#include "mpi_test_environment.h"
#include "parallel/context_parallel.h"
#include "parallel/device_mesh.h"
#include "parallel/shard_in_place.h"
#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"
#include "parallel/weight_units.h"
#include "src/io/safetensors.h"
#include "src/models/fp8_scaled_storage.h"
#include "src/models/layerwise_casting.h"
#include "src/models/load_model.h"
#include "src/models/model.h"
#include "src/models/flux_text/flux_text_encoder.h"
#include "src/models/umt5/umt5_encoder.h"
#include "src/models/umt5/umt5_text_encoder.h"
#include "src/models/weight_storage.h"
#include "src/pipelines/pipeline.h"

namespace tessera::testing {
namespace {

// Parameters of mixed dtypes and sizes, some with fewer rows (and elements) than the group has ranks.
class Odd : public Module {
 public:
  Odd() {
    register_parameter("wide", at::arange(35, at::kFloat).view({5, 7}) / 3.0);
    register_parameter("one", at::full({1}, 2.5, at::kFloat));
    register_parameter("half", (at::arange(6, at::kFloat) / 7.0).to(at::kBFloat16).view({3, 2}));
    register_parameter("row", at::arange(3, at::kFloat).view({1, 3}) - 1.0);
  }
  Outputs forward_impl(Args& args) override { return {args.tensor("x")}; }
};

// Shares filled as a loader does, from the whole tensors every rank can compute here.
void fill_shares(ShardedWeights& weights, Module& module) {
  for (const auto& [name, piece] : weights.local_pieces()) {
    at::Tensor destination = piece.destination;
    destination.copy_(module.named_parameters()[name].reshape({-1}).narrow(0, piece.begin, destination.numel()));
  }
}

TEST(ShardedWeights, GathersTheSameBitsFromUnevenShares) {
  c10::InferenceMode inference;  // as a forward runs
  Odd module;
  std::vector<at::Tensor> originals;
  for (const auto& parameter : module.parameters()) originals.push_back(parameter.clone());
  std::vector<WeightUnit> units = weight_units(module);
  ASSERT_EQ(units.size(), 1u);  // no block stack: one unit
  ShardedWeights weights(units, shared_world(), c10::Device(c10::kCPU));
  fill_shares(weights, module);
  weights.release_all();
  for (const auto& parameter : module.parameters()) EXPECT_EQ(parameter.numel(), 0);
  const auto local = world().all_gather_sizes(weights.local_bytes());
  int64_t sum = 0;
  for (int64_t bytes : local) sum += bytes;
  EXPECT_EQ(sum, weights.total_bytes());
  for (int round = 0; round < 2; ++round) {
    weights.before(0);
    const auto parameters = module.parameters();
    for (size_t i = 0; i < parameters.size(); ++i) {
      EXPECT_TRUE(at::equal(parameters[i], originals[i])) << "parameter " << i << ", round " << round;
    }
    weights.after(0);
    for (const auto& parameter : module.parameters()) EXPECT_EQ(parameter.numel(), 0);
  }
}

Args read_args(const std::string& dir) {
  const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
  Args args;
  for (const auto& name : inputs.names()) args.set(name, inputs.load(name));
  return args;
}


// A group of one rank holds every unit whole: materialising points the parameters at its own buffer (no gather,
// nothing sent, no copy), releasing empties them, and gathers() still counts each unit made whole.
TEST(ShardedWeights, OneRankViewsItsOwnBuffer) {
  c10::InferenceMode inference;
  Odd module;
  std::vector<at::Tensor> originals;
  for (const auto& parameter : module.parameters()) originals.push_back(parameter.clone());
  const auto alone = world().split(world().rank(), 0, "alone");
  ShardedWeights weights(weight_units(module), alone, c10::Device(c10::kCPU));
  fill_shares(weights, module);
  weights.release_all();
  for (int round = 0; round < 2; ++round) {
    weights.before(0);
    const auto parameters = module.parameters();
    for (size_t i = 0; i < parameters.size(); ++i) {
      EXPECT_TRUE(at::equal(parameters[i], originals[i])) << "parameter " << i << ", round " << round;
    }
    // "wide" and "one" are fp32, laid end to end in one slab: views of one buffer.
    EXPECT_TRUE(module.named_parameters()["wide"].is_alias_of(module.named_parameters()["one"]));
    weights.after(0);
    for (const auto& parameter : module.parameters()) EXPECT_EQ(parameter.numel(), 0);
    EXPECT_EQ(weights.gathers(), round + 1);
  }
  EXPECT_TRUE(weights.gather_group().stats().empty());
}

// A whole model sharded in memory (as `bench scaling --weights-sharding sharded` does) computes the same bits, and
// made whole again it holds its own weights and no gather hooks.
TEST(ShardedWeights, ShardInPlaceAndBack) {
  c10::InferenceMode inference;
  const std::string dir = detail::concat(TESSERA_FIXTURES_DIR, "/wan/uneven_rope");
  const Args args = read_args(dir);
  auto model = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
  std::map<std::string, at::Tensor> originals;
  for (const auto& item : model->named_parameters()) originals[item.key()] = item.value().clone();
  const at::Tensor whole = (*model)(args).at(0);
  const auto weights = shard_in_place(*model, shared_world(), c10::Device(c10::kCPU));
  ASSERT_EQ(sharded_weights_of(*model), weights);
  for (const auto& item : model->named_parameters()) EXPECT_EQ(item.value().numel(), 0) << item.key();
  EXPECT_TRUE(at::equal((*model)(args).at(0), whole));
  unshard_in_place(*model);
  EXPECT_EQ(sharded_weights_of(*model), nullptr);
  for (const auto& item : model->named_parameters()) {
    EXPECT_TRUE(at::equal(item.value(), originals.at(item.key()))) << item.key();
  }
  EXPECT_TRUE(at::equal((*model)(args).at(0), whole));
}

// A fixture's forward, sharded and not, under every strategy of this world, with the weights stored as `storage`
// says. Under FP8 storage each rank keeps its share of the FP8 bytes (the shares add up to the unsharded FP8
// model's parameters), the fp8-scaled scales whole. Loaded as a pipeline loads (outside inference mode: the FP8
// hooks keep ordinary tensors), run as a generation runs.
void expect_sharded_forward_identical(const std::string& dir, WeightStorage storage = WeightStorage::full) {
  const Args args = read_args(dir);
  for (const auto& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    auto whole = load_model(dir, at::kFloat, c10::Device(c10::kCPU), nullptr, storage);
    auto sharded = load_model(dir, at::kFloat, c10::Device(c10::kCPU), shared_world(), storage);
    const auto shares = sharded_weights_of(*sharded);
    ASSERT_NE(shares, nullptr);
    EXPECT_EQ(sharded->metadata().parameter_count, whole->metadata().parameter_count);
    EXPECT_EQ(shares->total_bytes(), parameter_bytes(*whole));
    int64_t held = 0;
    for (int64_t bytes : world().all_gather_sizes(shares->local_bytes())) held += bytes;
    EXPECT_EQ(held, parameter_bytes(*whole));
    EXPECT_EQ(fp8_scale_bytes(*sharded), fp8_scale_bytes(*whole));
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
    enable_parallelism(*whole, whole->context_parallel_plan(), mesh);
    enable_parallelism(*sharded, sharded->context_parallel_plan(), mesh);
    c10::InferenceMode inference;
    for (int run = 0; run < 2; ++run) {  // a second forward gathers again
      EXPECT_TRUE(at::equal((*sharded)(args).at(0), (*whole)(args).at(0))) << "forward " << run;
    }
  }
}

TEST(ShardedWeights, WanForwardIsBitIdentical) {
  expect_sharded_forward_identical(detail::concat(TESSERA_FIXTURES_DIR, "/wan/uneven_rope"));
}

TEST(ShardedWeights, FluxForwardIsBitIdentical) {
  expect_sharded_forward_identical(detail::concat(TESSERA_FIXTURES_DIR, "/flux/dev_guidance"));
}

// FP8 storage sharded (issue 25, section 3): the FP8 shares gathered are the unsharded storage's bits, fp8-scaled's
// scales found from the row maxima of every rank's part of each row.
TEST(ShardedWeights, Fp8ForwardsAreBitIdentical) {
  for (const WeightStorage storage : {WeightStorage::fp8, WeightStorage::fp8_scaled}) {
    SCOPED_TRACE(weight_storage_name(storage));
    expect_sharded_forward_identical(detail::concat(TESSERA_FIXTURES_DIR, "/wan/uneven_rope"), storage);
    expect_sharded_forward_identical(detail::concat(TESSERA_FIXTURES_DIR, "/flux/dev_guidance"), storage);
  }
}

std::vector<ParallelConfig> generation_configs(int n) {
  std::vector<ParallelConfig> all = strategies(n);
  if (n % 2 == 0) all.push_back({n / 2, 1, 2});  // CFG-parallel
  return all;
}

// The embedded pipeline's frames, sharded over the world and not, with and without a first-block cache (which
// decides per CFG branch, so CFG-parallel ranks may skip different blocks while they gather the same ones).
TEST(ShardedWeights, GenerationIsBitIdenticalWithAndWithoutCache) {
  for (const char* spec : {"", "fbc:threshold=0.1"}) {
    for (const ParallelConfig& config : generation_configs(world().size())) {
      SCOPED_TRACE(detail::concat(spec, " ", config.to_string()));
      at::Tensor frames[2];
      for (int shard = 0; shard < 2; ++shard) {
        PipelineLoadOptions options;
        if (shard == 1) options.shard_group = shared_world();
        auto pipeline = Pipeline::load(TESSERA_EMBEDDED_MODEL_DIR, at::kFloat, c10::Device(c10::kCPU), options);
        GenerationRequest request;
        request.prompt = "red circle moving right";
        request.seed = 5;
        request.steps = 4;
        const Generation generation = pipeline->resolve(request);
        auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
        enable_parallelism(pipeline->transformer(), pipeline->transformer().context_parallel_plan(), mesh);
        if (*spec != '\0') enable_cache(pipeline->transformer(), parse_cache_spec(spec));
        DenoiseOptions loop;
        loop.cfg_group = &mesh->cfg();
        frames[shard] = pipeline->generate(generation, loop);
        const auto sharded = sharded_weights_of(pipeline->transformer());
        ASSERT_EQ(sharded != nullptr, shard == 1);
        if (sharded) {
          EXPECT_GT(sharded->gathers(), 0);
        }
      }
      EXPECT_TRUE(at::equal(frames[1], frames[0]));
    }
  }
}

// A text encoder sharded across the world encodes on rank 0 while the others only take part in its gathers
// (accompany_encode): rank 0's embeddings are the same bits as the encoder held whole, twice in a row, and a call
// with no prompt gathers nothing on any rank.
void expect_sharded_encoding_identical(const std::function<std::unique_ptr<TextEncoder>(bool sharded)>& load) {
  c10::InferenceMode inference;
  const std::vector<std::string> prompts = {"a fox in the snow", ""};
  std::unique_ptr<TextEncoder> whole = world().rank() == 0 ? load(false) : nullptr;
  std::unique_ptr<TextEncoder> sharded = load(true);
  for (int round = 0; round < 2; ++round) {
    if (world().rank() != 0) {
      sharded->accompany_encode(prompts.size());
      sharded->accompany_encode(0);
      continue;
    }
    const PromptEmbeddings expected = whole->encode(prompts);
    const PromptEmbeddings actual = sharded->encode(prompts);
    EXPECT_TRUE(at::equal(actual.embeddings, expected.embeddings)) << "round " << round;
    EXPECT_TRUE(at::equal(actual.mask, expected.mask));
    EXPECT_EQ(actual.pooled.defined(), expected.pooled.defined());
    if (expected.pooled.defined()) {
      EXPECT_TRUE(at::equal(actual.pooled, expected.pooled));
    }
    EXPECT_EQ(sharded->encode({}).embeddings.size(0), 0);
  }
  world().barrier();
}

TEST(ShardedWeights, Umt5EncodesTheSameBitsOnOneRank) {
  const std::string dir = detail::concat(TESSERA_FIXTURES_DIR, "/wan_pipeline/pipeline");
  expect_sharded_encoding_identical([&dir](bool sharded) {
    return Umt5TextEncoder::load(PartConfig(dir + "/text_encoder"), dir + "/tokenizer", at::kBFloat16,
                                 c10::Device(c10::kCPU), /*max_length=*/512, sharded ? shared_world() : nullptr);
  });
}

TEST(ShardedWeights, FluxClipAndT5EncodeTheSameBitsOnOneRank) {
  const std::string dir = detail::concat(TESSERA_FIXTURES_DIR, "/flux_pipeline/pipeline");
  expect_sharded_encoding_identical([&dir](bool sharded) {
    return FluxTextEncoder::load(FluxTextEncoderParts::in(dir), at::kBFloat16, c10::Device(c10::kCPU),
                                 /*max_sequence_length=*/512, sharded ? shared_world() : nullptr);
  });
}

// Every parameter of the encoder is in one of the units its forward gathers (unit 0, what none covers, is empty),
// and each rank holds about 1/N of the bytes.
TEST(ShardedWeights, Umt5UnitsCoverEveryParameter) {
  const std::string dir = detail::concat(TESSERA_FIXTURES_DIR, "/wan_pipeline/pipeline/text_encoder");
  auto whole = load_umt5_encoder(PartConfig(dir), at::kFloat, c10::Device(c10::kCPU));
  const std::vector<std::string> paths = whole->weight_unit_paths();
  const std::vector<WeightUnit> units = weight_units(*whole, paths);
  ASSERT_EQ(units.size(), paths.size() + 1);
  EXPECT_TRUE(units.front().parameters.empty());
  size_t covered = 0;
  for (const WeightUnit& unit : units) covered += unit.parameters.size();
  EXPECT_EQ(covered, whole->parameters().size());
  EXPECT_EQ(units[1].name, "shared");
  EXPECT_EQ(units.back().name, "encoder.final_layer_norm");
}

}  // namespace
}  // namespace tessera::testing
