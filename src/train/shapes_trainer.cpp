#include "src/train/shapes_trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "common/atomic_file.h"
#include "common/check.h"
#include "src/io/safetensors.h"
#include "src/models/model_registry.h"
#include "src/models/text/word_text_encoder.h"
#include "src/models/wan/wan_transformer.h"
#include "src/shapes/coordinate_channels.h"
#include "src/shapes/shapes_dataset.h"
#include "src/shapes/shapes_scene.h"

namespace tessera {
namespace {

constexpr const char* kPipelineClass = "TesseraShapesPipeline";

double learning_rate_at(const TrainRecipe& recipe, int64_t step, int64_t total) {
  if (step < recipe.warmup_steps) return recipe.learning_rate * static_cast<double>(step + 1) / recipe.warmup_steps;
  const double progress =
      static_cast<double>(step - recipe.warmup_steps) / static_cast<double>(std::max<int64_t>(1, total - recipe.warmup_steps));
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
  const double floor = recipe.min_learning_rate_fraction;
  return recipe.learning_rate * (floor + (1.0 - floor) * cosine);
}

// Parameters and buffers by name, the way load_weights reads them back.
std::vector<std::pair<std::string, at::Tensor>> named_tensors(torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : module.named_parameters(true)) tensors.emplace_back(item.key(), item.value().detach());
  for (const auto& item : module.named_buffers(true)) tensors.emplace_back(item.key(), item.value().detach());
  return tensors;
}

// Exponential moving average of every parameter, kept aside and swapped in for checkpoints.
class ExponentialAverage {
 public:
  ExponentialAverage(std::vector<at::Tensor> parameters, double decay) : parameters_(std::move(parameters)), decay_(decay) {
    for (const auto& parameter : parameters_) average_.push_back(parameter.detach().clone());
  }
  bool enabled() const { return decay_ > 0; }
  void update(int64_t step) {
    // The usual warm-up of the decay, so that early checkpoints are not dominated by the initialisation.
    const double decay = std::min(decay_, (1.0 + step) / (10.0 + step));
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters_.size(); ++i) average_[i].mul_(decay).add_(parameters_[i].detach(), 1.0 - decay);
  }
  void swap() {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      const at::Tensor current = parameters_[i].detach().clone();
      parameters_[i].detach().copy_(average_[i]);
      average_[i].copy_(current);
    }
  }

 private:
  std::vector<at::Tensor> parameters_;
  std::vector<at::Tensor> average_;
  double decay_;
};

void write_json(const std::filesystem::path& path, const nlohmann::ordered_json& json) {
  write_file_atomically(path.string(), json.dump(2) + "\n");
}

// The whole pipeline folder, each file written atomically.
void save_pipeline(const std::filesystem::path& dir, const TrainRecipe& recipe, const std::string& recipe_text,
                   Model& transformer, WordTextEncoder& text_encoder, const nlohmann::ordered_json& loss_curve) {
  for (const char* part : {"transformer", "text_encoder", "tokenizer", "scheduler", "vae"}) {
    std::filesystem::create_directories(dir / part);
  }
  nlohmann::ordered_json index = {
      {"_class_name", kPipelineClass},
      {"transformer", {"tessera", WanTransformer3DModel::kClassName}},
      {"text_encoder", {"tessera", WordTextEncoder::kClassName}},
      {"tokenizer", {"tessera", "WordTokenizer"}},
      {"scheduler", {"diffusers", recipe.scheduler.value("_class_name", "")}},
      {"vae", {"tessera", "PixelDecoder"}},
      {"coordinate_channels", true},
      {"defaults", recipe.defaults},
  };
  write_json(dir / "model_index.json", index);
  nlohmann::ordered_json transformer_config = {{"_class_name", WanTransformer3DModel::kClassName}};
  for (const auto& [key, value] : recipe.transformer.items()) transformer_config[key] = value;
  write_json(dir / "transformer" / "config.json", transformer_config);
  io::save_safetensors((dir / "transformer" / "diffusion_pytorch_model.safetensors").string(), named_tensors(transformer));
  text_encoder.save((dir / "text_encoder").string(), (dir / "tokenizer").string());
  write_json(dir / "scheduler" / "scheduler_config.json", recipe.scheduler);
  write_json(dir / "vae" / "config.json", {{"_class_name", "PixelDecoder"}, {"out_channels", 3}});
  write_file_atomically((dir / "recipe.json").string(), recipe_text);
  write_json(dir / "loss.json", loss_curve);
}

}  // namespace

double train_shapes_model(const TrainRecipe& recipe, const std::string& recipe_text, const TrainOptions& options) {
  TESSERA_CHECK(!options.out_dir.empty(), "train: no output folder");
  const int64_t total_steps = options.steps.value_or(recipe.steps);
  TESSERA_CHECK(total_steps >= 1, "train: the number of steps must be at least 1, got ", total_steps);
  at::manual_seed(recipe.seed);  // parameter initialisation
  nlohmann::json transformer_config = recipe.transformer;
  std::shared_ptr<Model> transformer = create_model(WanTransformer3DModel::kClassName, transformer_config);
  enable_coordinate_channels(*transformer);
  const auto& words = shapes::vocabulary();
  WordTextEncoderConfig text_config = recipe.text_encoder;
  text_config.vocab_size = static_cast<int64_t>(words.size()) + 1;
  WordTextEncoder text_encoder(WordTokenizer(words, text_config.max_length),
                               std::make_shared<WordEncoderModule>(text_config));
  transformer->train();
  text_encoder.module().train();

  std::vector<at::Tensor> parameters;
  for (const auto& parameter : transformer->parameters()) parameters.push_back(parameter);
  for (const auto& parameter : text_encoder.module().parameters()) parameters.push_back(parameter);
  torch::optim::AdamW optimizer(parameters,
                                torch::optim::AdamWOptions(recipe.learning_rate).weight_decay(recipe.weight_decay));
  ExponentialAverage average(parameters, recipe.ema_decay);

  shapes::ShapesDataset dataset(recipe.seed);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(recipe.seed + 1);
  std::mt19937_64 dropout_random(recipe.seed + 2);
  std::bernoulli_distribution drop_caption(recipe.caption_dropout);

  nlohmann::ordered_json loss_curve = {{"step", nlohmann::json::array()}, {"loss", nlohmann::json::array()},
                                       {"seconds", nlohmann::json::array()}};
  const auto start = std::chrono::steady_clock::now();
  double interval_loss = 0, last_mean = 0;
  int64_t interval_count = 0;
  for (int64_t step = 0; step < total_steps; ++step) {
    const bool clip_step = (step + 1) % recipe.clip_every == 0;
    shapes::ShapesBatch batch = clip_step ? dataset.next(recipe.clip_batch, recipe.clip_frames, recipe.height, recipe.width)
                                          : dataset.next(recipe.image_batch, 1, recipe.height, recipe.width);
    for (auto& caption : batch.captions) {
      if (drop_caption(dropout_random)) caption.clear();
    }
    const int64_t size = batch.pixels.size(0);
    // Flow matching as Wan trains: x_t = (1 - sigma) x_0 + sigma noise, the model predicts noise - x_0 at
    // timestep 1000 sigma. Sigmas from a logit-normal, which weights the middle of the trajectory.
    const at::Tensor noise = at::randn(batch.pixels.sizes(), generator);
    const at::Tensor sigma = at::sigmoid(at::randn({size}, generator));
    const at::Tensor sigma5 = sigma.view({size, 1, 1, 1, 1});
    const at::Tensor noisy = (1 - sigma5) * batch.pixels + sigma5 * noise;
    const PromptEmbeddings text = text_encoder.encode(batch.captions);
    const at::Tensor prediction = (*transformer)({{"hidden_states", noisy},
                                                  {"timestep", sigma * 1000.0},
                                                  {"encoder_hidden_states", text.embeddings}})
                                      .at(0);
    const at::Tensor loss = at::mse_loss(prediction, noise - batch.pixels);

    const double learning_rate = learning_rate_at(recipe, step, total_steps);
    for (auto& group : optimizer.param_groups()) group.options().set_lr(learning_rate);
    optimizer.zero_grad();
    loss.backward();
    if (recipe.grad_clip > 0) torch::nn::utils::clip_grad_norm_(parameters, recipe.grad_clip);
    optimizer.step();
    if (average.enabled()) average.update(step);

    const double value = loss.item<double>();
    TESSERA_CHECK(std::isfinite(value), "train: the loss became ", value, " at step ", step + 1,
                  "; lower the learning rate in the recipe");
    interval_loss += value;
    ++interval_count;
    const bool last = step + 1 == total_steps;
    if ((step + 1) % recipe.log_every == 0 || last) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      last_mean = interval_loss / static_cast<double>(interval_count);
      loss_curve["step"].push_back(step + 1);
      loss_curve["loss"].push_back(last_mean);
      loss_curve["seconds"].push_back(seconds);
      if (options.on_log) options.on_log({step + 1, total_steps, last_mean, learning_rate, seconds});
      interval_loss = 0;
      interval_count = 0;
    }
    if ((step + 1) % recipe.checkpoint_every == 0 || last) {
      if (average.enabled()) average.swap();
      save_pipeline(options.out_dir, recipe, recipe_text, *transformer, text_encoder, loss_curve);
      if (average.enabled()) average.swap();
      if (options.on_checkpoint) options.on_checkpoint(options.out_dir);
    }
  }
  return last_mean;
}

}  // namespace tessera
