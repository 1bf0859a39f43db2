// LoRA fused into the weights against LoRA on hooks (src/models/lora/), on a Wan transformer built from the
// published Wan2.1-T2V-1.3B config with random weights and BLOCKS blocks: (a) the time to switch a job's LoRA set
// (fuse: put the weights back from host copies, read the file, fuse; hooks: remove the hooks, read the file, hook),
// and the file read alone, which both pay; (b) the time of one transformer forward (a denoising step's) without
// LoRA, fused and hooked. Two LoRA sets of rank RANK on every attention projection (attn1, attn2: to_q, to_k, to_v,
// to_out.0), written to a scratch folder. Each figure is the median of REPEATS rounds, a round taking one of each
// in turn (the machine is shared).
//   tessera_bench_lora_modes [BLOCKS=2] [RANK=32] [FRAMES=3] [HEIGHT=30] [WIDTH=52] [REPEATS=7]
// (FRAMES x HEIGHT x WIDTH latents: 3 x 30 x 52 is 1,170 tokens after the 1x2x2 patches). One JSON line on stdout.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "src/io/safetensors.h"
#include "src/models/lora/lora_fuse.h"
#include "src/models/lora/lora_hooks.h"
#include "src/models/model_registry.h"

namespace {

using namespace tessera;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// A PEFT-format LoRA of `rank` on every attention projection of `blocks` blocks of width `dim`.
void write_lora(const std::string& path, int64_t blocks, int64_t dim, int64_t rank, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (int64_t block = 0; block < blocks; ++block) {
    for (const char* attention : {"attn1", "attn2"}) {
      for (const char* projection : {"to_q", "to_k", "to_v", "to_out.0"}) {
        const std::string module = "transformer.blocks." + std::to_string(block) + "." + attention + "." + projection;
        tensors.emplace_back(module + ".lora_A.weight", at::randn({rank, dim}, generator).div_(std::sqrt(dim)));
        tensors.emplace_back(module + ".lora_B.weight", at::randn({dim, rank}, generator).mul_(0.01));
      }
    }
  }
  io::save_safetensors(path, tensors, {});
}

}  // namespace

int main(int argc, char** argv) {
  const auto arg = [&](int i, int64_t fallback) { return argc > i ? std::atoll(argv[i]) : fallback; };
  const int64_t blocks = arg(1, 2), rank = arg(2, 32), frames = arg(3, 3), height = arg(4, 30), width = arg(5, 52);
  const int repeats = static_cast<int>(arg(6, 7));
  c10::InferenceMode inference;

  // Wan2.1-T2V-1.3B's transformer/config.json, with fewer blocks.
  const nlohmann::json config = {{"added_kv_proj_dim", nullptr}, {"attention_head_dim", 128}, {"cross_attn_norm", true},
                                 {"eps", 1e-6}, {"ffn_dim", 8960}, {"freq_dim", 256}, {"image_dim", nullptr},
                                 {"in_channels", 16}, {"num_attention_heads", 12}, {"num_layers", blocks},
                                 {"out_channels", 16}, {"patch_size", {1, 2, 2}}, {"qk_norm", "rms_norm_across_heads"},
                                 {"rope_max_seq_len", 1024}, {"text_dim", 4096}};
  const int64_t dim = 12 * 128;
  // Three copies, so that each run can take one step of each kind in turn (the machine's load drifts): the base,
  // one with the LoRA fused, one with it on hooks.
  const auto make = [&] {
    auto model = create_model("WanTransformer3DModel", config);
    model->eval();
    return model;
  };
  auto base = make(), fused = make(), hooked = make();
  const std::string name = base->class_name();

  const auto dir = std::filesystem::temp_directory_path() / ("tessera_lora_modes_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<std::string> files = {(dir / "a.safetensors").string(), (dir / "b.safetensors").string()};
  write_lora(files[0], blocks, dim, rank, 1);
  write_lora(files[1], blocks, dim, rank, 2);
  const auto set = [&](int i) { return std::vector<lora::LoraSpec>{{files[static_cast<size_t>(i)], 0.8}}; };

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const Args inputs{{"hidden_states", at::randn({1, 16, frames, height, width}, generator)},
                    {"timestep", at::full({1}, 500.0)},
                    {"encoder_hidden_states", at::randn({1, 512, 4096}, generator)}};

  nlohmann::json result = {{"blocks", blocks}, {"rank", rank}, {"dim", dim},
                           {"tokens", frames * (height / 2) * (width / 2)}, {"adapted_layers", blocks * 8},
                           {"repeats", repeats}, {"threads", at::get_num_threads()}};
  lora::SavedWeights saved;
  lora::fuse_loras(*fused, lora::read_loras(set(0)), name, &saved);
  lora::hook_loras(*hooked, lora::read_loras(set(0)), name);

  // Each switch goes to the other set, as in a batch whose jobs alternate.
  std::vector<double> read, switch_fuse, switch_hooks, step_base, step_fused, step_hooks;
  int next = 1;
  const auto timed = [](std::vector<double>& into, const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    into.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
  // Each round runs the three switches, then the three steps, in an order rotated by the round, so that no kind
  // always follows a step (after one, the allocator's first requests fault fresh pages) or always comes first.
  const auto rotated = [](int round, const std::vector<std::function<void()>>& runs) {
    for (size_t i = 0; i < runs.size(); ++i) runs[(i + static_cast<size_t>(round)) % runs.size()]();
  };
  for (int round = 0; round < repeats; ++round) {
    rotated(round, {[&] { timed(read, [&] { (void)lora::read_loras(set(next)); }); },
                    [&] {
                      timed(switch_fuse, [&] {
                        lora::restore_weights(*fused, saved);
                        lora::fuse_loras(*fused, lora::read_loras(set(next)), name, &saved);
                      });
                    },
                    [&] {
                      timed(switch_hooks, [&] {
                        lora::unhook_loras(*hooked);
                        lora::hook_loras(*hooked, lora::read_loras(set(next)), name);
                      });
                    }});
    next ^= 1;
    rotated(round, {[&] { timed(step_base, [&] { (void)(*base)(inputs).at(0); }); },
                    [&] { timed(step_fused, [&] { (void)(*fused)(inputs).at(0); }); },
                    [&] { timed(step_hooks, [&] { (void)(*hooked)(inputs).at(0); }); }});
  }
  result["read_s"] = median(read);
  result["switch_fuse_s"] = median(switch_fuse);
  result["switch_hooks_s"] = median(switch_hooks);
  result["step_base_s"] = median(step_base);
  result["step_fused_s"] = median(step_fused);
  result["step_hooks_s"] = median(step_hooks);

  // remove, not remove_all: libtorch exports an ABI-incompatible std::filesystem::remove_all.
  for (const auto& file : files) std::filesystem::remove(file);
  std::filesystem::remove(dir);
  std::cout << result.dump() << std::endl;
  return 0;
}
