#!/usr/bin/env python3
"""The weights each published Wan variant needs per rank, as Markdown (docs/wan_variants_memory.md).

  ~/.cache/tessera/venv/bin/python scripts/variant_memory.py

Each part is built from its published config with diffusers' / transformers' own classes on the meta device (no
weights are read or allocated) and its parameters are counted; bytes follow the dtype tessera keeps each part in:
the transformers, UMT5 and CLIP in the pipeline dtype (bf16 by default on CUDA) except UMT5's feed-forward output
projections (fp32, as transformers keeps them: src/models/umt5/umt5_encoder.cpp), and the VAE in fp32
(src/pipelines/pipeline_parts.h). Where each config comes from is written beside it."""
import argparse

import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

GIB = 1024**3
BF16, FP32 = 2, 4
GPU_GIB = (24, 48, 80, 141)
# Conservatively, a card leaves room for activations only when the weights leave at least this share of it free:
# a nominal size includes what the CUDA context and the caching allocator take, and no activation is counted here.
ROOM_SHARE = 0.10
RANKS = (1, 2, 4, 8)

# Transformer configs: get_transformer_config() in huggingface/diffusers scripts/convert_wan_to_diffusers.py (the
# keys that change the parameter count; rope_max_seq_len and eps do not).
_WAN_14B = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=16,
                out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40,
                cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6)
TRANSFORMERS = {
    "Wan-T2V-1.3B": dict(_WAN_14B, num_attention_heads=12, ffn_dim=8960, num_layers=30),
    "Wan-T2V-14B": _WAN_14B,
    "Wan-I2V-14B-480p/720p": dict(_WAN_14B, in_channels=36, image_dim=1280, added_kv_proj_dim=5120),
    "Wan-FLF2V-14B-720P": dict(_WAN_14B, in_channels=36, image_dim=1280, added_kv_proj_dim=5120,
                               rope_max_seq_len=1024, pos_embed_seq_len=257 * 2),
    # One config for both stages (high_noise_model -> transformer, low_noise_model -> transformer_2).
    "Wan2.2-T2V-A14B": _WAN_14B,
    "Wan2.2-I2V-14B-720p": dict(_WAN_14B, in_channels=36),
    "Wan2.2-TI2V-5B": dict(_WAN_14B, num_attention_heads=24, ffn_dim=14336, num_layers=30, in_channels=48,
                           out_channels=48),
}

# VAE configs, same script: convert_vae() builds AutoencoderKLWan() with diffusers' defaults (the Wan2.1 VAE);
# convert_vae_22() builds it from vae22_diffusers_config (latents_mean/std and clip_output do not change the count).
VAES = {
    "Wan2.1 VAE": {},
    "Wan2.2 VAE": dict(base_dim=160, z_dim=48, is_residual=True, in_channels=12, out_channels=12,
                       decoder_base_dim=256, scale_factor_temporal=4, scale_factor_spatial=16, patch_size=2),
}

# UMT5-XXL (the conversion script loads google/umt5-xxl, whose config.json is not readable here): the widths of
# umt5_xxl() in Wan-Video/Wan2.1 wan/modules/t5.py: vocab 256384, dim 4096, dim_attn 4096 (64 heads of 64),
# dim_ffn 10240, 24 encoder layers, 32 buckets, a bias per layer (shared_pos=False), gated GELU.
UMT5 = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
            relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", tie_word_embeddings=False)

# CLIP ViT-H/14 vision tower (the conversion script loads laion/CLIP-ViT-H-14-laion2B-s32B-b79K, whose config.json is
# not readable here): the vision widths of clip_xlm_roberta_vit_h_14() in Wan-Video/Wan2.1 wan/modules/clip.py:
# image 224, patch 14, width 1280, MLP ratio 4, 16 heads, 32 layers; the transformer's image_dim 1280 agrees.
CLIP = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
            image_size=224, patch_size=14, hidden_act="gelu", layer_norm_eps=1e-5)

# Each variant: (transformer config, experts, image encoder?, VAE).
VARIANTS = [
    ("Wan2.1 T2V-1.3B", "Wan-T2V-1.3B", 1, False, "Wan2.1 VAE"),
    ("Wan2.1 T2V-14B", "Wan-T2V-14B", 1, False, "Wan2.1 VAE"),
    ("Wan2.1 I2V-14B-480P / 720P", "Wan-I2V-14B-480p/720p", 1, True, "Wan2.1 VAE"),
    ("Wan2.1 FLF2V-14B-720P", "Wan-FLF2V-14B-720P", 1, True, "Wan2.1 VAE"),
    ("Wan2.2 T2V-A14B", "Wan2.2-T2V-A14B", 2, False, "Wan2.1 VAE"),
    ("Wan2.2 I2V-A14B", "Wan2.2-I2V-14B-720p", 2, False, "Wan2.1 VAE"),
    ("Wan2.2 TI2V-5B", "Wan2.2-TI2V-5B", 1, False, "Wan2.2 VAE"),
]


def count(module, in_fp32=lambda name: False):
    """(all parameters, those kept in fp32); tied parameters once, as module.parameters() gives them."""
    total = fp32 = 0
    for name, parameter in module.named_parameters():
        total += parameter.numel()
        fp32 += parameter.numel() if in_fp32(name) else 0
    return total, fp32


def parts():
    with torch.device("meta"):
        transformers = {key: count(WanTransformer3DModel(**config))[0] for key, config in TRANSFORMERS.items()}
        vaes = {key: count(AutoencoderKLWan(**config))[0] for key, config in VAES.items()}
        keep_fp32 = UMT5EncoderModel._keep_in_fp32_modules or []
        umt5 = count(UMT5EncoderModel(UMT5Config(**UMT5)),
                     lambda name: any(f".{module}." in f".{name}" for module in keep_fp32))
        clip = count(CLIPVisionModel(CLIPVisionConfig(**CLIP)))[0]
    return transformers, vaes, umt5, clip


def gib(nbytes):
    return f"{nbytes / GIB:.1f} GiB"


def billions(n):
    return f"{n / 1e9:.2f}B"


def verdict(free_bytes, size):
    if free_bytes <= 0:
        return "does not fit"
    return f"{gib(free_bytes)} free" + ("" if free_bytes >= ROOM_SHARE * size * GIB else " (tight)")


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    transformers, vaes, (umt5, umt5_fp32), clip = parts()
    umt5_bytes = BF16 * (umt5 - umt5_fp32) + FP32 * umt5_fp32

    print("### Parts (parameters on the meta device)\n")
    print("| part | parameters | bf16 | as tessera keeps it (bf16 pipeline) |")
    print("|---|---|---|---|")
    for key, n in transformers.items():
        print(f"| transformer {key} | {n:,} ({billions(n)}) | {gib(BF16 * n)} | {gib(BF16 * n)} |")
    print(f"| UMT5-XXL encoder | {umt5:,} ({billions(umt5)}) | {gib(BF16 * umt5)} | {gib(umt5_bytes)} "
          f"({umt5_fp32:,} of them, the feed-forward `wo`, in fp32) |")
    print(f"| CLIP ViT-H/14 vision model | {clip:,} ({billions(clip)}) | {gib(BF16 * clip)} | {gib(BF16 * clip)} |")
    for key, n in vaes.items():
        print(f"| {key} (encoder and decoder) | {n:,} ({billions(n)}) | {gib(BF16 * n)} | {gib(FP32 * n)} (fp32) |")

    print("\n### Weights per rank (bf16 pipeline, the CUDA default)\n")
    # A two-expert folder holds one expert on the device; the idle one waits in host memory (`--idle-expert host`,
    # the GPU's default) and is counted apart.
    print("| variant | transformer(s) | UMT5-XXL | image encoder | VAE | on the device per rank at 1 / 2 / 4 / 8 "
          "ranks | idle expert in host memory | all in fp32 (`--dtype fp32`) |")
    print("|---|---|---|---|---|---|---|---|")
    totals = []
    for name, key, experts, image_encoder, vae in VARIANTS:
        n = transformers[key] * experts
        clip_bytes = BF16 * clip if image_encoder else 0
        running = transformers[key]  # one expert on the device at a time
        total = BF16 * running + umt5_bytes + clip_bytes + FP32 * vaes[vae]
        fp32_total = FP32 * (running + umt5 + (clip if image_encoder else 0) + vaes[vae])
        idle = gib(BF16 * transformers[key]) if experts == 2 else "-"
        experts_text = f"2 x {billions(transformers[key])} = " if experts == 2 else ""
        per_rank = " / ".join([gib(total)] * len(RANKS))
        print(f"| {name} | {experts_text}{billions(n)}, {gib(BF16 * n)} | {gib(umt5_bytes)} | "
              f"{gib(clip_bytes) if image_encoder else '-'} | {gib(FP32 * vaes[vae])} | {per_rank} | {idle} | "
              f"{gib(fp32_total)} |")
        totals.append((name, total))

    print("\n### Left for activations per GPU (weights only, bf16 pipeline; activations not included)\n")
    print(f"(tight): under {ROOM_SHARE:.0%} of the card free after the weights.\n")
    print("| variant | weights per rank | " + " | ".join(f"{size} GiB" for size in GPU_GIB) + " |")
    print("|---|---|" + "---|" * len(GPU_GIB))
    for name, total in totals:
        cells = [verdict(size * GIB - total, size) for size in GPU_GIB]
        print(f"| {name} | {gib(total)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
