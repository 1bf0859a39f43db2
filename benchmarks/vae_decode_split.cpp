// A VAE decode split by rows over the ranks (LatentDecoder::decode_to_frames): each rank's peak resident memory
// above its pre-decode baseline, and the decode time. With --encode, the Wan VAE's encode of the video those
// latents stand for, split the same way (WanVaeDecoder::encode with the world: the image-to-video condition). Random weights at a chosen width, in the Wan 2.1 layout
// (--model wan) or FLUX.1's AutoencoderKL layout (--model autoencoder-kl: block_out_channels base x [1, 2, 4, 4],
// two layers per block, 32 groups, 16 latent channels, one frame); the same seed on every rank, so all ranks
// decode the same model and latents.
//
//   launch/tessera-run -np 4 build/bin/tessera_bench_vae_decode [--model wan] [--base-dim 32] [--latent 48x48]
//       [--frames 2 | 1] [--threads 1] [--encode] [--json results/vae_decode_split_cpu.json]
// Rank 0 prints one line per rank and, with --json, writes the run's record (ranks, config, per-rank memory and
// time) to that file.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"
#include "src/models/autoencoder_kl/autoencoder_kl.h"
#include "src/models/autoencoder_kl/autoencoder_kl_decoder.h"
#include "src/models/wan_vae/autoencoder_kl_wan.h"
#include "src/models/wan_vae/wan_vae_decoder.h"

namespace {

// A field of /proc/self/status in kB ("VmRSS", "VmHWM").
int64_t status_kb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets VmHWM to the current resident size (Linux: "5" to clear_refs), so the next reading is the decode's peak.
bool reset_peak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  return static_cast<bool>(clear.flush());
}

}  // namespace

int main(int argc, char** argv) {
  tessera::MpiRuntime runtime(&argc, &argv);
  int64_t base_dim = 32, height = 48, width = 48, frames = 0;  // frames: 2 for wan, 1 for autoencoder-kl
  int threads = 1;
  std::string json_path, model = "wan";
  bool encode = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--encode") {
      encode = true;
      --i;
      continue;
    }
    TESSERA_CHECK(i + 1 < argc, flag, " needs a value");
    const std::string value = argv[i + 1];
    if (flag == "--model") model = value;
    else if (flag == "--base-dim") base_dim = std::stoll(value);
    else if (flag == "--latent") std::sscanf(value.c_str(), "%ldx%ld", &height, &width);
    else if (flag == "--frames") frames = std::stoll(value);
    else if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--json") json_path = value;
    else TESSERA_CHECK(false, "unknown flag ", flag, "; see the comment at the top of vae_decode_split.cpp");
  }
  if (frames == 0) frames = model == "wan" ? 2 : 1;
  at::set_num_threads(threads);
  auto world = tessera::MpiCommunicator::world();
  c10::InferenceMode inference;

  const int64_t z_dim = 16;
  at::manual_seed(0);
  std::unique_ptr<tessera::LatentDecoder> decoder;
  if (model == "wan") {
    const tessera::WanVaeConfig config{.base_dim = base_dim, .decoder_base_dim = base_dim, .z_dim = z_dim,
                                       .dim_mult = {1, 2, 4, 4}, .num_res_blocks = 2,
                                       .temperal_downsample = {false, true, true},
                                       .latents_mean = std::vector<double>(z_dim, 0.0),
                                       .latents_std = std::vector<double>(z_dim, 1.0), .in_channels = 3,
                                       .out_channels = 3, .is_residual = false, .patch_size = 1};
    decoder = std::make_unique<tessera::WanVaeDecoder>(std::make_shared<tessera::wan_vae::AutoencoderKLWan>(config));
  } else {
    TESSERA_CHECK(model == "autoencoder-kl", "--model ", model, ": choose wan or autoencoder-kl");
    TESSERA_CHECK(frames == 1, "--model autoencoder-kl decodes images: --frames 1, not ", frames);
    const tessera::AutoencoderKlConfig config{.latent_channels = z_dim, .out_channels = 3,
                                              .block_out_channels = {base_dim, 2 * base_dim, 4 * base_dim,
                                                                     4 * base_dim},
                                              .layers_per_block = 2, .norm_num_groups = 32,
                                              .scaling_factor = 0.3611, .shift_factor = 0.1159,
                                              .use_post_quant_conv = false, .mid_block_add_attention = true};
    decoder = std::make_unique<tessera::AutoencoderKlDecoder>(
        std::make_shared<tessera::autoencoder_kl::AutoencoderKL>(config));
  }
  const at::Tensor latents = at::randn({1, z_dim, frames, height, width});
  TESSERA_CHECK(!encode || model == "wan", "--encode runs the Wan VAE's encoder: --model wan");
  const int64_t scale = decoder->spatial_scale();
  const at::Tensor pixels =
      encode ? at::rand({1, 3, 1 + (frames - 1) * decoder->temporal_scale(), height * scale, width * scale}) * 2 - 1
             : at::Tensor();

  world->barrier();
  const bool peak_reset = reset_peak();
  const int64_t baseline_kb = status_kb("VmRSS");
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor video = encode ? static_cast<tessera::WanVaeDecoder&>(*decoder).encode(pixels, world.get())
                                  : decoder->decode_to_frames(latents, world.get());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t peak_kb = status_kb("VmHWM");
  const int64_t increase_kb = peak_kb - baseline_kb;

  // Every rank's figures to rank 0.
  const at::Tensor mine = at::tensor({static_cast<double>(baseline_kb), static_cast<double>(peak_kb),
                                      static_cast<double>(increase_kb), seconds}, at::kDouble).view({1, 4});
  const at::Tensor all = world->all_gather(mine, 0);
  if (world->rank() != 0) return 0;
  std::ostringstream shape;
  shape << video.sizes();
  nlohmann::json record = {{"model", model}, {"direction", encode ? "encode" : "decode"}, {"ranks", world->size()}, {"threads_per_rank", threads}, {"base_dim", base_dim},
                           {"latents", {1, z_dim, frames, height, width}}, {encode ? "latents_out" : "frames_uint8", shape.str()},
                           {"peak_reset_by_clear_refs", peak_reset}, {"per_rank", nlohmann::json::array()}};
  for (int r = 0; r < world->size(); ++r) {
    const auto row = all[r];
    std::printf("ranks %d rank %d: baseline %.0f MiB, peak %.0f MiB, %s increase %.0f MiB, %.2f s\n",
                world->size(), r, row[0].item<double>() / 1024, row[1].item<double>() / 1024,
                encode ? "encode" : "decode", row[2].item<double>() / 1024, row[3].item<double>());
    record["per_rank"].push_back({{"rank", r}, {"baseline_rss_mib", row[0].item<double>() / 1024},
                                  {"peak_rss_mib", row[1].item<double>() / 1024},
                                  {"decode_increase_mib", row[2].item<double>() / 1024},
                                  {"decode_seconds", row[3].item<double>()}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << record.dump(2) << "\n";
  return 0;
}
