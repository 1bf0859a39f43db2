#!/usr/bin/env python3
"""Forward time per step of FluxTransformer2DModel: tessera (C++, `tessera forward`) at 1 rank and at 2 ranks
(Ulysses and Ring, one process per rank) against diffusers' Python module, same weights, same inputs, the same
threads per process, fp32 on CPU. Also checks that the outputs agree.

    ~/.cache/tessera/venv/bin/python benchmarks/flux_forward_vs_diffusers.py [--threads 1] [--repeat 3]

Config "medium": FLUX.1 widths (24 heads x 128 = 3072, T5 text 4096, pooled 768, guidance embedding) with 1
double-stream and 2 single-stream blocks instead of 19 and 38; a 256x256 image (16x16 packed latents: 256 tokens)
and 128 text tokens. Results: JSON (--out).
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

import torch
from diffusers import FluxTransformer2DModel
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from wan_forward_vs_diffusers import ROOT, time_diffusers  # noqa: E402

MEDIUM = dict(patch_size=1, in_channels=64, out_channels=None, num_layers=1, num_single_layers=2,
              attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
              guidance_embeds=True, axes_dims_rope=(16, 56, 56))
IMAGE_SIDE, TEXT_TOKENS = 16, 128


def medium_inputs():
    generator = torch.Generator().manual_seed(0)
    rows = torch.arange(IMAGE_SIDE, dtype=torch.float32)
    img_ids = torch.stack([torch.zeros(IMAGE_SIDE, IMAGE_SIDE), rows[:, None].expand(-1, IMAGE_SIDE),
                           rows[None, :].expand(IMAGE_SIDE, -1)], -1).reshape(-1, 3)
    return {"hidden_states": torch.randn(1, IMAGE_SIDE * IMAGE_SIDE, 64, generator=generator),
            "encoder_hidden_states": torch.randn(1, TEXT_TOKENS, 4096, generator=generator),
            "pooled_projections": torch.randn(1, 768, generator=generator),
            "timestep": torch.tensor([0.7]), "guidance": torch.tensor([3.5]),
            "img_ids": img_ids.contiguous(), "txt_ids": torch.zeros(TEXT_TOKENS, 3)}


def time_tessera(model_dir, inputs_path, output_path, threads, repeat, ranks, strategy, workdir):
    timing = workdir / "timing.json"
    command = [str(ROOT / "launch" / "tessera-run"), "-np", str(ranks), str(ROOT / "build" / "bin" / "tessera"),
               "forward", "--model", str(model_dir), "--inputs", str(inputs_path), "--output", str(output_path),
               "--threads", str(threads), "--repeat", str(repeat + 1), "--timing-json", str(timing),
               "--log-level", "warn"]
    if ranks > 1:
        command += [f"--{strategy}", str(ranks)]
    subprocess.run(command, check=True)
    return json.loads(timing.read_text())["seconds"][1:]  # the first run is the warm-up


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "flux_forward_cpu.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        model_dir = workdir / "medium"
        torch.manual_seed(0)
        FluxTransformer2DModel(**MEDIUM).save_pretrained(model_dir)
        inputs = medium_inputs()
        inputs_path = model_dir / "inputs.safetensors"
        save_file(inputs, str(inputs_path))
        diffusers_times, reference = time_diffusers(model_dir, inputs, args.repeat, FluxTransformer2DModel)
        diffusers_median = statistics.median(diffusers_times)
        print(f"diffusers 1 process        {diffusers_median:8.3f} s")
        for ranks, strategy in ((1, "none"), (2, "ulysses"), (2, "ring")):
            output_path = workdir / f"out_{ranks}_{strategy}.safetensors"
            times = time_tessera(model_dir, inputs_path, output_path, args.threads, args.repeat, ranks, strategy,
                                 workdir)
            sample = load_file(str(output_path))["sample"]
            error = ((sample - reference).abs().max() / reference.abs().max()).item()
            row = {"ranks": ranks, "strategy": strategy, "threads_per_rank": args.threads, "repeat": args.repeat,
                   "image_tokens": IMAGE_SIDE * IMAGE_SIDE, "text_tokens": TEXT_TOKENS,
                   "diffusers_median_s": diffusers_median, "tessera_median_s": statistics.median(times),
                   "diffusers_s": diffusers_times, "tessera_s": times,
                   "speedup_vs_diffusers": diffusers_median / statistics.median(times),
                   "max_relative_error": error}
            results.append(row)
            print(f"tessera {ranks} rank(s) {strategy:8s} {row['tessera_median_s']:8.3f} s  "
                  f"{row['speedup_vs_diffusers']:.2f}x diffusers  max rel error {error:.2e}")
    document = {"benchmark": "flux_forward_vs_diffusers", "device": "cpu", "dtype": "float32",
                "config": {**MEDIUM, "axes_dims_rope": list(MEDIUM["axes_dims_rope"])},
                "torch": torch.__version__, "command": " ".join(sys.argv), "results": results}
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
