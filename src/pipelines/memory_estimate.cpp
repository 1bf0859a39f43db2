#include "src/pipelines/memory_estimate.h"

#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/check.h"
#include "src/io/weight_source.h"
#include "src/models/autoencoder_kl/autoencoder_kl_config.h"
#include "src/models/flux/flux_config.h"
#include "src/models/part_config.h"
#include "src/models/wan/wan_config.h"
#include "src/models/wan_vae/wan_vae_config.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera {
namespace {

// The constants below were measured on this project's CPU machine (docs/memory_estimate.md says how): the live
// peak, with glibc returning every large block at once; the heap glibc keeps for reuse comes on top of it.
// The loop holds the latents, the starting noise, the two branches' predictions, the guided one and the
// scheduler's history of past predictions (UniPC keeps two): about six latent-sized fp32 tensors.
constexpr int64_t kLatentCopies = 6;
// One block's widest moment: the feed-forward's hidden activation (its GELU runs in place: gelu_of_fresh) and half
// as much again of large blocks the loop keeps for its next step (kernels/cpu_block_cache.h), beside about eight
// model-width tensors per token (the residual stream, its norm and modulation, queries, keys, values, the attention
// output).
constexpr double kFeedForwardCopies = 1.5;
constexpr double kModelWidthCopies = 8;
// The Wan VAE's working set at the output resolution, in tensors of the last level's channels per output frame of
// the chunk (the causal convolutions' padded inputs joined with their cached frames, the upsampled input, the
// residual), and the AutoencoderKL's in tensors of the channels that enter the last level (its first resnet's
// upsampled input, normalised and activated, the convolutions' outputs and oneDNN's reordered copies).
constexpr double kWanVaeWorkingCopies = 9;
constexpr double kAutoencoderKlWorkingCopies = 4.4;
// oneDNN's compiled convolutions and scratch buffers for a decode's new shapes.
constexpr int64_t kDecoderRuntimeBytes = int64_t{16} << 20;
// FLUX joins the prompt's T5 tokens to the image's in every attention (max_sequence_length).
constexpr int64_t kFluxTextTokens = 512;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Bytes counted in double (a request may ask for more than int64 holds), saturated.
int64_t to_bytes(double bytes) {
  constexpr double kMost = 9.0e18;
  return static_cast<int64_t>(std::min(bytes, kMost));
}

bool has_safetensors(const std::string& dir) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 12 && name.find(".safetensors") != std::string::npos) return true;
  }
  return false;
}

// The bytes a part's weights take once loaded, floating-point tensors as `dtype_of(name)` gives (the header's
// dtype is what is on disk, not what is kept), others as stored.
// The block a tensor belongs to: its name up to the first all-digit segment ("blocks.3", "single_transformer_blocks.
// 12"), or "" outside the blocks (embedders, norm_out, proj_out): the units sharded weights gather in.
std::string block_of(const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    const size_t end = std::min(name.find('.', start), name.size());
    if (end > start && std::all_of(name.begin() + static_cast<std::ptrdiff_t>(start),
                                   name.begin() + static_cast<std::ptrdiff_t>(end), ::isdigit)) {
      return name.substr(0, end);
    }
    start = end + 1;
  }
  return "";
}

// `element_bytes` > 0 (FP8 storage) counts each matrix (the linear layers' weights) at that many bytes per element
// plus `row_scale_bytes` per row (fp8-scaled's fp32 scale per output channel); vectors and convolutions as kept.
// `by_block` gets the bytes of each block (block_of); the scales go to `scale_bytes` where it is given (they are
// kept whole on every rank of a sharded transformer), else into the total. `matrix_bytes`, where given, gets the
// bytes of the matrices kept as they run (the ones a packed copy doubles).
template <typename DtypeOf>
double part_weight_bytes(io::WeightSource& source, double element_bytes, DtypeOf dtype_of,
                         double row_scale_bytes = 0, std::map<std::string, double>* by_block = nullptr,
                         double* scale_bytes = nullptr, double* matrix_bytes = nullptr) {
  // transformers' T5 files store the tied embedding twice; it is loaded once.
  if (source.contains("shared.weight")) source.forget("encoder.embed_tokens.weight");
  double bytes = 0;
  for (const std::string& name : source.names()) {
    const io::TensorInfo& info = source.info(name);
    if (!c10::isFloatingType(info.dtype)) {
      bytes += static_cast<double>(info.byte_size());
      continue;
    }
    const c10::ScalarType kept = dtype_of(name);
    const bool stored = element_bytes > 0 && info.shape.size() == 2;
    const double scales = stored ? row_scale_bytes * static_cast<double>(info.shape[0]) : 0.0;
    double size = stored ? element_bytes * static_cast<double>(info.numel())
                         : static_cast<double>(c10::elementSize(kept)) * static_cast<double>(info.numel());
    if (scale_bytes != nullptr) {
      *scale_bytes += scales;
    } else {
      size += scales;
    }
    bytes += size;
    if (by_block != nullptr) (*by_block)[block_of(name)] += size;
    if (matrix_bytes != nullptr && !stored && info.shape.size() == 2) *matrix_bytes += size;
  }
  return bytes;
}

int64_t weight_bytes(const PipelineIndex& index, const MemoryRequest& request) {
  const c10::ScalarType dtype = request.dtype;
  const auto loaded_bytes = [&](const std::string& part, double element_bytes, double row_scale_bytes,
                                std::map<std::string, double>* by_block, double* scale_bytes = nullptr,
                                double* matrix_bytes = nullptr) {
    const std::string dir = index.part_dir(part);
    if (!has_safetensors(dir)) return 0.0;
    io::WeightSource source = io::WeightSource::open_dir(dir);
    // T5's feed-forward output stays in fp32, as transformers keeps it (src/models/umt5/umt5_encoder.cpp).
    return part_weight_bytes(
        source, element_bytes,
        [dtype](const std::string& name) {
          return name.find(".DenseReluDense.wo.") != std::string::npos ? c10::ScalarType::Float : dtype;
        },
        row_scale_bytes, by_block, scale_bytes, matrix_bytes);
  };
  // Sharded (--shard-weights): the rank's share, plus what is gathered whole while a forward runs: the parameters
  // outside the blocks (a transformer's for the whole forward, T5's embedding for its first block) and the running
  // block with the next one's gather. One model runs at a time: the largest gathered set counts once.
  double in_flight = 0;
  const auto shared = [&](double whole, std::map<std::string, double>& by_block) {
    if (request.weight_shards <= 1) return whole;
    double largest_block = 0;
    for (const auto& [block, block_bytes] : by_block) {
      if (!block.empty()) largest_block = std::max(largest_block, block_bytes);
    }
    in_flight = std::max(in_flight, by_block[""] + 2 * largest_block);
    return whole / static_cast<double>(request.weight_shards);
  };
  // The text encoders are counted as rank 0 holds them: it encodes for the generation's other ranks, which hold
  // none of their weights (the larger need is the one checked), or, sharded, each rank's share of them. The image
  // encoder (Wan I2V's CLIP vision tower) is held whole.
  double bytes = 0;
  for (const char* part : {"text_encoder", "text_encoder_2", "image_encoder"}) {
    if (!index.parts.count(part)) continue;
    const std::string& class_name = index.part(part).class_name;
    std::map<std::string, double> by_block;
    const double whole = loaded_bytes(part, 0, 0, &by_block);
    const bool sharded = class_name == "UMT5EncoderModel" || class_name == "T5EncoderModel" ||
                         class_name == "CLIPTextModel";
    bytes += sharded ? shared(whole, by_block) : whole;
  }
  double experts = 0;
  for (const std::string& part : Pipeline::transformer_parts_of(index)) {
    // --weights fp8 stores the transformers' linear layers in one byte (fp8-scaled: plus an fp32 scale per output
    // channel); the few matrices it keeps (embedders, proj_out) are counted at one byte too.
    // Sharded, the matrices' FP8 bytes are shared out and gathered, the fp8-scaled scales kept whole.
    // Packed matrices (fp32 on the CPU, whole weights) are a second copy of each.
    std::map<std::string, double> by_block;
    double scales = 0, matrices = 0;
    const double expert = shared(loaded_bytes(part, request.weight_element_bytes, request.weight_row_scale_bytes,
                                              &by_block, &scales, &matrices),
                                 by_block) +
                          scales + (request.packed_matrices ? matrices : 0.0);
    experts = request.every_expert_on_device ? experts + expert : std::max(experts, expert);
  }
  bytes += experts + in_flight;
  // The VAE stays whole and in fp32 (pipeline_parts.h); an AutoencoderKL loads only its decoder.
  const std::string vae = index.part_dir("vae");
  if (has_safetensors(vae)) {
    io::WeightSource source = io::WeightSource::open_dir(vae);
    if (index.part("vae").class_name == "AutoencoderKL") source.keep_only_prefixes({"decoder.", "post_quant_conv."});
    bytes += part_weight_bytes(source, 0, [](const std::string&) { return c10::ScalarType::Float; });
  }
  return to_bytes(bytes);
}

// The latents' layout: channels, frames and cells per frame, and the decoder's scales.
struct Latents {
  int64_t channels = 0, frames = 1, height = 0, width = 0;
  int64_t spatial_scale = 1;
};

// A transformer's sequence and widths.
struct Sequence {
  int64_t tokens = 0;       // split across the context-parallel ranks
  int64_t joint_tokens = 0;  // every rank holds them whole (FLUX's text)
  int64_t width = 0, feed_forward = 0;
};

Latents latents_of(const PipelineIndex& index, const nlohmann::json& transformer, const MemoryRequest& request) {
  const PartConfig vae(index.part_dir("vae"));
  const std::string& vae_class = index.part("vae").class_name;
  Latents latents;
  if (vae_class == "AutoencoderKLWan") {
    const WanVaeConfig config = wan_vae_config_from_json(vae.json(), vae.path());
    latents.channels = config.z_dim;
    latents.spatial_scale = config.spatial_scale();
    latents.frames = (request.frames - 1) / config.temporal_scale() + 1;
  } else if (vae_class == "AutoencoderKL") {
    const AutoencoderKlConfig config = autoencoder_kl_config_from_json(vae.json(), vae.path());
    latents.channels = config.latent_channels;
    latents.spatial_scale = config.spatial_scale();
  } else {
    // A pixel-space decoder: the transformer denoises the frames themselves.
    latents.channels = transformer.value("out_channels", int64_t{3});
    latents.frames = request.frames;
  }
  latents.height = request.height / latents.spatial_scale;
  latents.width = request.width / latents.spatial_scale;
  return latents;
}

Sequence sequence_of(const std::string& transformer_class, const nlohmann::json& json, const Latents& latents) {
  if (transformer_class == "FluxTransformer2DModel") {
    const FluxConfig config = flux_config_from_json(json);
    // FluxPipeline packs 2x2 latent cells into one token.
    return {.tokens = (latents.height / 2) * (latents.width / 2), .joint_tokens = kFluxTextTokens,
            .width = config.inner_dim(), .feed_forward = 4 * config.inner_dim()};
  }
  TESSERA_CHECK(transformer_class == "WanTransformer3DModel", "the memory estimate knows WanTransformer3DModel and ",
                "FluxTransformer2DModel, not ", transformer_class, "; pass --skip-memory-check to run without it");
  const WanConfig config = wan_config_from_json(json);
  const auto& patch = config.patch_size;
  return {.tokens = ceil_div(latents.frames, patch[0]) * (latents.height / patch[1]) * (latents.width / patch[2]),
          .width = config.inner_dim(), .feed_forward = config.ffn_dim};
}

// The Wan VAE decodes one latent frame at a time; each causal convolution caches its input's last two frames for
// the next chunk, at its level's resolution. The peak is in a chunk after the first (four output frames, every
// cache full) when there is one.
double wan_vae_working_bytes(const WanVaeConfig& c, int64_t latent_frames, double band_pixels) {
  const int64_t levels = static_cast<int64_t>(c.dim_mult.size());
  std::vector<int64_t> dims = {c.decoder_base_dim * c.dim_mult.back()};
  for (int64_t i = levels - 1; i >= 0; --i) dims.push_back(c.decoder_base_dim * c.dim_mult[i]);
  const bool later_chunk = latent_frames > 1;
  const double cached_frames = later_chunk ? 2 : 1;
  // The decoder's last level runs at the output resolution over the patches (Wan2.2 unfolds them after).
  const double top_pixels = band_pixels / static_cast<double>(c.patch_size * c.patch_size);
  const auto pixels_at = [&](int64_t level) { return top_pixels / static_cast<double>(int64_t{1} << (2 * (levels - 1 - level))); };
  double cached = (static_cast<double>(c.z_dim) + 4.0 * static_cast<double>(dims[0])) * pixels_at(0);
  for (int64_t i = 0; i < levels; ++i) {
    const int64_t in = i > 0 && !c.is_residual ? dims[i] / 2 : dims[i];
    const int64_t out = dims[i + 1];
    double channels = static_cast<double>(in + out + 2 * c.num_res_blocks * out);
    const bool temporal = i != levels - 1 && c.temperal_downsample[levels - 2 - i];
    if (temporal) channels += static_cast<double>(out);
    cached += channels * pixels_at(i);
  }
  cached += static_cast<double>(dims.back()) * top_pixels;
  const double chunk_frames = later_chunk ? static_cast<double>(c.temporal_scale()) : 1.0;
  const double working = kWanVaeWorkingCopies * static_cast<double>(dims.back()) * chunk_frames * top_pixels;
  return 4.0 * (cached * cached_frames + working);
}

int64_t decode_bytes(const PipelineIndex& index, const Latents& latents, const MemoryRequest& request) {
  const std::string& vae_class = index.part("vae").class_name;
  // The decoder splits the latent rows among the ranks (row_split.h); a rank holds at most the largest band.
  const int64_t bands = std::max<int64_t>(1, std::min(request.decode_ranks, latents.height));
  const int64_t band_rows = ceil_div(latents.height, bands) * latents.spatial_scale;
  const double band_pixels = static_cast<double>(band_rows) * static_cast<double>(request.width);
  const double frames = static_cast<double>(request.frames);
  const double full_pixels = static_cast<double>(request.height) * static_cast<double>(request.width);
  // The band's fp32 pixels, their uint8 frames, and every rank's frames gathered.
  const double output = frames * (3.0 * 4.0 * band_pixels + 3.0 * band_pixels + 3.0 * full_pixels);
  double working = 0;
  if (vae_class == "AutoencoderKLWan") {
    const PartConfig vae(index.part_dir("vae"));
    working = wan_vae_working_bytes(wan_vae_config_from_json(vae.json(), vae.path()), latents.frames, band_pixels) +
              kDecoderRuntimeBytes;
  } else if (vae_class == "AutoencoderKL") {
    const PartConfig vae(index.part_dir("vae"));
    const AutoencoderKlConfig config = autoencoder_kl_config_from_json(vae.json(), vae.path());
    const auto& channels = config.block_out_channels;
    const int64_t entering = channels.size() > 1 ? channels[1] : channels[0];
    working = kAutoencoderKlWorkingCopies * static_cast<double>(entering) * 4.0 * band_pixels + kDecoderRuntimeBytes;
  } else {
    // A pixel-space decoder clamps and scales the whole frames on every rank.
    working = 2.0 * 3.0 * 4.0 * frames * full_pixels;
  }
  return to_bytes(output + working);
}

}  // namespace

int64_t MemoryEstimate::total() const {
  return to_bytes(static_cast<double>(weights) + static_cast<double>(latents) +
                  static_cast<double>(std::max(activations, decode)));
}

MemoryEstimate estimate_memory(const std::string& pipeline_dir, const MemoryRequest& request) {
  TESSERA_CHECK(request.height > 0 && request.width > 0 && request.frames > 0 && request.context_parallel > 0 &&
                    request.decode_ranks > 0 && request.forward_batch > 0 && request.weight_shards > 0,
                "a memory estimate needs positive sizes and rank counts");
  const PipelineIndex index = read_pipeline_index(pipeline_dir);
  const std::vector<std::string> transformers = Pipeline::transformer_parts_of(index);
  const PartConfig transformer(index.part_dir(transformers.front()));
  const Latents latents = latents_of(index, transformer.json(), request);
  const Sequence sequence = sequence_of(transformer.named_class(), transformer.json(), latents);

  MemoryEstimate estimate;
  estimate.weights = weight_bytes(index, request);
  const double latent_elements = static_cast<double>(latents.channels) * static_cast<double>(latents.frames) *
                                 static_cast<double>(latents.height) * static_cast<double>(latents.width);
  estimate.latents = to_bytes(kLatentCopies * 4.0 * latent_elements);
  const double tokens = static_cast<double>(ceil_div(sequence.tokens, request.context_parallel) + sequence.joint_tokens);
  const double per_token = kFeedForwardCopies * static_cast<double>(sequence.feed_forward) +
                           kModelWidthCopies * static_cast<double>(sequence.width);
  estimate.activations = to_bytes(static_cast<double>(request.forward_batch) * tokens * per_token *
                                  static_cast<double>(c10::elementSize(request.dtype)));
  estimate.decode = decode_bytes(index, latents, request);
  return estimate;
}

std::string format_bytes(int64_t bytes) {
  char text[32];
  const double value = static_cast<double>(bytes);
  if (bytes >= (int64_t{1} << 30)) {
    std::snprintf(text, sizeof(text), "%.1f GiB", value / (1 << 30));
  } else {
    std::snprintf(text, sizeof(text), "%.1f MiB", value / (1 << 20));
  }
  return text;
}

std::string memory_table(const std::string& pipeline_dir, MemoryRequest request, const std::vector<int64_t>& ranks,
                         bool shard_weights) {
  std::ostringstream out;
  out << "memory per rank for " << request.frames << " frame(s) of " << request.height << "x" << request.width
      << " in " << c10::toString(request.dtype) << " (docs/memory_estimate.md):\n";
  char line[160];
  std::snprintf(line, sizeof(line), "%6s %12s %12s %12s %12s %12s\n", "ranks", "weights", "latents", "activations",
                "decode", "total");
  out << line;
  for (const int64_t n : ranks) {
    request.context_parallel = n;
    request.decode_ranks = n;
    request.weight_shards = shard_weights ? n : 1;
    const MemoryEstimate estimate = estimate_memory(pipeline_dir, request);
    std::snprintf(line, sizeof(line), "%6lld %12s %12s %12s %12s %12s\n", static_cast<long long>(n),
                  format_bytes(estimate.weights).c_str(), format_bytes(estimate.latents).c_str(),
                  format_bytes(estimate.activations).c_str(), format_bytes(estimate.decode).c_str(),
                  format_bytes(estimate.total()).c_str());
    out << line;
  }
  return out.str();
}

}  // namespace tessera
