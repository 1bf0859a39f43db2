#!/usr/bin/env python3
"""Writes a random WanTransformer3DModel checkpoint in the diffusers layout, sharded with an index, large enough
to measure the peak memory of loading (benchmarks/load_memory.cpp). Tensors are made one at a time, so this
script itself never holds more than a shard.

    ~/.cache/tessera/venv/bin/python benchmarks/make_large_checkpoint.py --out /tmp/wan_large --layers 8 [--widths 14b]
"""
import argparse
import json
import pathlib

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import save_file

# Wan2.1-T2V-1.3B's widths.
CONFIG = dict(patch_size=[1, 2, 2], num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
              text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
              qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
# What differs at Wan2.1-T2V-14B's widths (its published config.json).
WIDTHS = {"1.3b": {}, "14b": dict(num_attention_heads=40, ffn_dim=13824, num_layers=40)}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--widths", choices=sorted(WIDTHS), default="1.3b", help="the published model whose widths")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--shard-mb", type=int, default=1024)
    parser.add_argument("--text-dim", type=int, default=CONFIG["text_dim"],
                        help="the text encoder's width (a tiny encoder's, to measure the transformer alone)")
    parser.add_argument("--channels", type=int, default=CONFIG["in_channels"],
                        help="latent channels in and out (a tiny VAE's z_dim)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = {**CONFIG, **WIDTHS[args.widths], "num_layers": args.layers, "text_dim": args.text_dim,
              "in_channels": args.channels, "out_channels": args.channels}
    with torch.device("meta"):
        shapes = {name: tuple(t.shape) for name, t in WanTransformer3DModel(**config).state_dict().items()}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"_class_name": "WanTransformer3DModel", **config}, indent=2))
    dtype = DTYPES[args.dtype]
    generator = torch.Generator().manual_seed(args.seed)
    shards, shard, shard_bytes = [], {}, 0
    for name, shape in shapes.items():
        shard[name] = (torch.randn(shape, generator=generator) * 0.02).to(dtype)
        shard_bytes += shard[name].nbytes
        if shard_bytes >= args.shard_mb << 20:
            shards.append(shard)
            shard, shard_bytes = {}, 0
    if shard:
        shards.append(shard)
    weight_map, total = {}, 0
    for i, tensors in enumerate(shards):
        file = f"diffusion_pytorch_model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(tensors, str(out / file))
        for name, tensor in tensors.items():
            weight_map[name] = file
            total += tensor.nbytes
    (out / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    print(f"{out}: {len(shapes)} tensors, {total / 2**30:.2f} GiB in {len(shards)} shards")


if __name__ == "__main__":
    main()
