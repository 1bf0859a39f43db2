#!/usr/bin/env python3
"""Forward time per step of WanTransformer3DModel: tessera (C++, `tessera forward`) against diffusers' Python
module, same weights, same inputs, same thread count, fp32 on CPU. Also checks that both outputs agree.

    ~/.cache/tessera/venv/bin/python benchmarks/wan_forward_vs_diffusers.py [--threads 2] [--repeat 3]

Configs: "tiny" (the odd_tokens parity fixture, 45 tokens) and "medium" (Wan2.1-1.3B widths: 12 heads x 128,
ffn 8960, text 4096, with 2 layers instead of 30; latent 16x5x24x24 -> 720 tokens). Results: JSON (--out).
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEDIUM = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
              text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=2, cross_attn_norm=True,
              qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def time_diffusers(model_dir, inputs, repeat, model_class=WanTransformer3DModel):
    # from_config + load_state_dict: from_pretrained would need accelerate for keep-in-fp32 modules.
    model = model_class.from_config(model_class.load_config(model_dir)).eval()
    model.load_state_dict(load_file(str(pathlib.Path(model_dir) / "diffusion_pytorch_model.safetensors")))
    times = []
    with torch.inference_mode():
        model(**inputs, return_dict=False)  # warm-up
        for _ in range(repeat):
            start = time.perf_counter()
            sample = model(**inputs, return_dict=False)[0]
            times.append(time.perf_counter() - start)
    return times, sample


def time_tessera(tessera, model_dir, inputs_path, output_path, threads, repeat, workdir):
    timing = workdir / "timing.json"
    command = [str(tessera), "forward", "--model", str(model_dir), "--inputs", str(inputs_path), "--output",
               str(output_path), "--threads", str(threads), "--repeat", str(repeat + 1), "--timing-json", str(timing),
               "--log-level", "warn"]
    subprocess.run(command, check=True)
    seconds = json.loads(timing.read_text())["seconds"]
    return seconds[1:]  # the first run is the warm-up


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tessera", default=str(ROOT / "build" / "bin" / "tessera"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "wan_forward_cpu.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        cases = {"tiny": ROOT / "tests" / "fixtures" / "wan" / "odd_tokens"}
        medium_dir = workdir / "medium"
        torch.manual_seed(0)
        WanTransformer3DModel(**MEDIUM).save_pretrained(medium_dir)
        save_file({"hidden_states": torch.randn(1, 16, 5, 24, 24), "timestep": torch.tensor([700.0]),
                   "encoder_hidden_states": torch.randn(1, 77, 4096)}, str(medium_dir / "inputs.safetensors"))
        cases["medium"] = medium_dir
        for name, model_dir in cases.items():
            inputs_path = model_dir / "inputs.safetensors"
            inputs = load_file(str(inputs_path))
            diffusers_times, reference = time_diffusers(model_dir, inputs, args.repeat)
            output_path = workdir / f"{name}_out.safetensors"
            tessera_times = time_tessera(args.tessera, model_dir, inputs_path, output_path, args.threads, args.repeat,
                                         workdir)
            sample = load_file(str(output_path))["sample"]
            error = ((sample - reference).abs().max() / reference.abs().max()).item()
            tokens = sample.shape[2] * sample.shape[3] * sample.shape[4] // 4
            row = {"config": name, "tokens": tokens, "threads": args.threads, "repeat": args.repeat,
                   "diffusers_median_s": statistics.median(diffusers_times),
                   "tessera_median_s": statistics.median(tessera_times),
                   "diffusers_s": diffusers_times, "tessera_s": tessera_times,
                   "speedup": statistics.median(diffusers_times) / statistics.median(tessera_times),
                   "max_relative_error": error}
            results.append(row)
            print(f"{name:7s} tokens {tokens:5d}  diffusers {row['diffusers_median_s'] * 1e3:9.2f} ms  "
                  f"tessera {row['tessera_median_s'] * 1e3:9.2f} ms  speedup {row['speedup']:.2f}x  "
                  f"max rel error {error:.2e}")
    document = {"benchmark": "wan_forward_vs_diffusers", "device": "cpu", "dtype": "float32",
                "torch": torch.__version__, "command": " ".join(sys.argv), "results": results}
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
