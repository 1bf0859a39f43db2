#!/usr/bin/env python3
"""Memory per rank of the published Wan2.1-14B, Wan2.2-A14B and FLUX.1-dev pipelines for each weight option, as
tessera's own estimate gives it (docs/memory_per_option.md).

  ~/.cache/tessera/venv/bin/python scripts/published_memory.py --tessera build/bin/tessera

Each pipeline folder is written with its published configs and safetensors files that hold the real headers (every
tensor's name, shape and dtype, from diffusers' / transformers' classes built on the meta device) and no data: the
files are sparse, so a 26 GiB transformer takes no disk. `tessera describe --model DIR --height H --width W --frames
F --dtype bf16` then prints the memory estimate (docs/memory_estimate.md: weights as each part is kept, latents, the
widest activation, the decode band) at 1/2/4/8 ranks for each option set; the table is its output, regrouped."""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import torch
from diffusers import AutoencoderKL, AutoencoderKLWan, FluxTransformer2DModel, WanTransformer3DModel
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from variant_memory import TRANSFORMERS, UMT5  # noqa: E402  (one place for the Wan configs)

GIB = 1024**3
RANKS = (1, 2, 4, 8)
GPU_GIB = (16, 24, 48, 80)

# FLUX.1-dev (black-forest-labs/FLUX.1-dev, transformer/config.json): 19 double and 38 single blocks, 24 heads x 128,
# guidance embedding.
FLUX_DEV = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
                axes_dims_rope=(16, 56, 56))
# Its text encoders: CLIP ViT-L/14's text tower (text_encoder/config.json) and T5 v1.1 XXL (text_encoder_2).
FLUX_CLIP = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
FLUX_T5 = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
               relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", is_gated_act=True,
               dense_act_fn="gelu_new", tie_word_embeddings=False)
# Its VAE (vae/config.json): AutoencoderKL with 16 latent channels.
FLUX_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=2, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                use_post_quant_conv=False)
FLUX_SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256, "base_shift": 0.5,
                  "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0,
                  "use_dynamic_shifting": True}
WAN_SCHEDULER = {"_class_name": "UniPCMultistepScheduler", "flow_shift": 5.0, "num_train_timesteps": 1000,
                 "prediction_type": "flow_prediction", "use_flow_sigmas": True, "solver_order": 2}

SAFETENSORS_DTYPES = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float16: "F16"}


def write_headers(module, path, dtype):
    """A safetensors file with `module`'s tensors in `dtype` (as the published file stores them), data left sparse."""
    header, offset = {}, 0
    for name, tensor in module.state_dict().items():
        size = tensor.numel() * torch.tensor([], dtype=dtype).element_size()
        header[name] = {"dtype": SAFETENSORS_DTYPES[dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        file.truncate(8 + len(text) + offset)


def write_part(folder, name, module, config, dtype, weights_name):
    os.makedirs(os.path.join(folder, name))
    with open(os.path.join(folder, name, "config.json"), "w") as file:
        json.dump(config, file)
    write_headers(module, os.path.join(folder, name, weights_name), dtype)


def diffusers_config(model):
    return {key: value for key, value in dict(model.config).items() if not key.startswith("_")} | {
        "_class_name": type(model).__name__}


def transformers_config(model):
    return model.config.to_dict() | {"architectures": [type(model).__name__]}


def make_wan(folder, experts):
    os.makedirs(folder)
    index = {"_class_name": "WanPipeline", "scheduler": ["diffusers", "UniPCMultistepScheduler"],
             "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5Tokenizer"],
             "vae": ["diffusers", "AutoencoderKLWan"]}
    with torch.device("meta"):
        transformer = WanTransformer3DModel(**TRANSFORMERS["Wan-T2V-14B"])
        umt5 = UMT5EncoderModel(UMT5Config(**UMT5))
        vae = AutoencoderKLWan()
    for part in ["transformer", "transformer_2"][:experts]:
        index[part] = ["diffusers", "WanTransformer3DModel"]
        write_part(folder, part, transformer, diffusers_config(transformer), torch.bfloat16,
                   "diffusion_pytorch_model.safetensors")
    if experts == 2:
        index["boundary_ratio"] = 0.875
    write_part(folder, "text_encoder", umt5, transformers_config(umt5), torch.bfloat16, "model.safetensors")
    write_part(folder, "vae", vae, diffusers_config(vae), torch.float32, "diffusion_pytorch_model.safetensors")
    os.makedirs(os.path.join(folder, "tokenizer"))
    os.makedirs(os.path.join(folder, "scheduler"))
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as file:
        json.dump(WAN_SCHEDULER, file)
    with open(os.path.join(folder, "model_index.json"), "w") as file:
        json.dump(index, file)


def make_flux(folder):
    os.makedirs(folder)
    index = {"_class_name": "FluxPipeline", "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "T5Tokenizer"],
             "transformer": ["diffusers", "FluxTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
    with torch.device("meta"):
        transformer = FluxTransformer2DModel(**FLUX_DEV)
        clip = CLIPTextModel(CLIPTextConfig(**FLUX_CLIP))
        t5 = T5EncoderModel(T5Config(**FLUX_T5))
        vae = AutoencoderKL(**FLUX_VAE)
    write_part(folder, "transformer", transformer, diffusers_config(transformer), torch.bfloat16,
               "diffusion_pytorch_model.safetensors")
    write_part(folder, "text_encoder", clip, transformers_config(clip), torch.bfloat16, "model.safetensors")
    write_part(folder, "text_encoder_2", t5, transformers_config(t5), torch.bfloat16, "model.safetensors")
    write_part(folder, "vae", vae, diffusers_config(vae), torch.float32, "diffusion_pytorch_model.safetensors")
    for part in ("tokenizer", "tokenizer_2", "scheduler"):
        os.makedirs(os.path.join(folder, part))
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as file:
        json.dump(FLUX_SCHEDULER, file)
    with open(os.path.join(folder, "model_index.json"), "w") as file:
        json.dump(index, file)


ROW = re.compile(r"^\s*(\d+)\s+([\d.]+ [KMG]i?B)\s+([\d.]+ [KMG]i?B)\s+([\d.]+ [KMG]i?B)\s+([\d.]+ [KMG]i?B)\s+"
                 r"([\d.]+ [KMG]i?B)\s*$")


def to_gib(text):
    value, unit = text.split()
    return float(value) * {"KiB": 2**-20, "MiB": 2**-10, "GiB": 1.0, "B": 2**-30}[unit]


def estimate(tessera, folder, size, options):
    height, width, frames = size
    command = [tessera, "describe", "--model", folder, "--height", str(height), "--width", str(width), "--frames",
               str(frames), "--dtype", "bf16", "--log-level", "warn", *options]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in output.splitlines():
        match = ROW.match(line)
        if match:
            rows[int(match.group(1))] = [to_gib(match.group(i)) for i in range(2, 7)]
    if sorted(rows) != list(RANKS):
        raise SystemExit(f"unexpected describe output for {' '.join(command)}:\n{output}")
    return rows, " ".join(command[1:]).replace(folder, os.path.basename(folder))


def fits(total):
    return ", ".join(f"{size}" for size in GPU_GIB if total <= size) or "none of " + "/".join(map(str, GPU_GIB))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tessera", default="build/bin/tessera")
    parser.add_argument("--options", action="append", default=None,
                        help="a weight option set, as describe takes it (repeatable); default: the built ones")
    args = parser.parse_args()
    option_sets = [o.split() for o in args.options] if args.options else [
        [], ["--weights", "fp8"], ["--weights", "fp8-scaled"], ["--shard-weights"],
        ["--shard-weights", "--weights", "fp8"]]
    cases = [("Wan2.1 T2V-14B", "wan21_t2v_14b", lambda d: make_wan(d, 1), (480, 832, 81)),
             ("Wan2.1 T2V-14B", "wan21_t2v_14b", None, (720, 1280, 81)),
             ("Wan2.2 T2V-A14B", "wan22_t2v_a14b", lambda d: make_wan(d, 2), (480, 832, 81)),
             ("FLUX.1-dev", "flux1_dev", make_flux, (1024, 1024, 1))]
    with tempfile.TemporaryDirectory(prefix="tessera_published_") as root:
        print("| model | size | options | weights | latents | activations | decode | total per rank at 1 / 2 / 4 / 8 "
              "ranks (GiB) | GPU sizes (GiB) it fits at 4 ranks |")
        print("|---|---|---|---|---|---|---|---|---|")
        commands = []
        for name, folder_name, make, (height, width, frames) in cases:
            folder = os.path.join(root, folder_name)
            if make is not None:
                make(folder)
            for options in option_sets:
                rows, command = estimate(args.tessera, folder, (height, width, frames), options)
                commands.append(command)
                four = rows[4]
                totals = " / ".join(f"{rows[r][4]:.1f}" for r in RANKS)
                size = f"{frames} x {width}x{height}" if frames > 1 else f"{width}x{height}"
                print(f"| {name} | {size} | {' '.join(options) or 'plain'} | {four[0]:.1f} | {four[1]:.2f} | "
                      f"{four[2]:.1f} | {four[3]:.1f} | {totals} | {fits(four[4])} |")
        print("\nCommands (folder names as written by the script):\n")
        for command in commands:
            print(f"    tessera {command}")


if __name__ == "__main__":
    main()
