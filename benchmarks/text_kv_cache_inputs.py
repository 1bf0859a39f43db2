"""Writes what benchmarks/results/text_kv_cache.md times: a random Wan transformer of Wan2.1-1.3B's widths (2 layers
instead of 30; `tessera bench scaling`'s "medium"), saved by diffusers, and `tessera denoise` inputs with UMT5's
512-token prompts: one 1-frame 32x32 latent (256 tokens) and one 6-frame clip (1536 tokens).

    ~/.cache/tessera/venv/bin/python benchmarks/text_kv_cache_inputs.py OUT_DIR
"""
import pathlib
import sys

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import save_file

MEDIUM = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
              text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=2, cross_attn_norm=True, eps=1e-6,
              rope_max_seq_len=1024)
TEXT_LENGTH = 512
LATENTS = {"image_256_tokens": (1, 16, 1, 32, 32), "clip_1536_tokens": (1, 16, 6, 32, 32)}


def main(out: pathlib.Path) -> None:
    torch.manual_seed(26)
    model = WanTransformer3DModel(**MEDIUM)
    model.save_pretrained(out / "model")
    for name, shape in LATENTS.items():
        save_file({"latents": torch.randn(shape), "prompt_embeds": torch.randn(1, TEXT_LENGTH, 4096) * 0.1,
                   "negative_prompt_embeds": torch.randn(1, TEXT_LENGTH, 4096) * 0.1},
                  str(out / f"{name}.safetensors"))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
