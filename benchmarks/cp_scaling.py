#!/usr/bin/env python3
"""Context-parallel scaling of `tessera forward` on this machine: 1 rank against 2 ranks with Ulysses and
with Ring, each rank one thread, on a long-sequence medium Wan config (Wan2.1-1.3B widths, 2 layers).

    ~/.cache/tessera/venv/bin/python benchmarks/cp_scaling.py [--frames 6 --size 32] [--repeat 2]

Weights are random (diffusers' initialisation, saved with save_pretrained into a temporary directory);
outputs of every run are checked against the 1-rank output. Results: benchmarks/results/cp_scaling_cpu.json.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEDIUM = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
              text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=2, cross_attn_norm=True,
              qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
STRATEGIES = [("single", 1, []), ("ulysses", 2, ["--ulysses", "2"]), ("ring", 2, ["--ring", "2"])]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--size", type=int, default=32, help="latent height and width")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cp_scaling_cpu.json"))
    parser.add_argument("--tessera", default=str(ROOT / "build" / "bin" / "tessera"),
                        help="the tessera binary to time (e.g. an older build, for a before/after comparison)")
    parser.add_argument("--strategies", default="single,ulysses,ring", help="comma-separated subset; single first")
    args = parser.parse_args()
    build = ROOT / "build" / "bin"
    chosen = args.strategies.split(",")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = pathlib.Path(scratch) / "medium"
        torch.manual_seed(0)
        WanTransformer3DModel(**MEDIUM).save_pretrained(model_dir)
        inputs = model_dir / "inputs.safetensors"
        save_file({"hidden_states": torch.randn(1, 16, args.frames, args.size, args.size),
                   "timestep": torch.tensor([700.0]), "encoder_hidden_states": torch.randn(1, 77, 4096)}, str(inputs))
        tokens = args.frames * (args.size // 2) ** 2
        reference = None
        for name, ranks, flags in [s for s in STRATEGIES if s[0] in chosen]:
            output = pathlib.Path(scratch) / f"{name}.safetensors"
            timing = pathlib.Path(scratch) / f"{name}.json"
            command = [str(build / "tessera-run"), "-np", str(ranks), args.tessera, "forward", "--model",
                       str(model_dir), "--inputs", str(inputs), "--output", str(output), "--threads", "1",
                       "--repeat", str(args.repeat + 1), "--timing-json", str(timing), "--log-level", "warn", *flags]
            subprocess.run(command, check=True)
            seconds = json.loads(timing.read_text())["seconds"][1:]
            sample = load_file(str(output))["sample"]
            reference = sample if reference is None else reference
            error = ((sample - reference).abs().max() / reference.abs().max()).item()
            results.append({"strategy": name, "ranks": ranks, "threads_per_rank": 1, "tokens": tokens,
                            "seconds": seconds, "median_s": statistics.median(seconds),
                            "max_relative_error_vs_single": error})
    single = results[0]["median_s"]
    for row in results:
        row["speedup"] = single / row["median_s"]
        print(f"{row['strategy']:8s} ranks {row['ranks']}  {row['median_s']:.3f} s  speedup {row['speedup']:.2f}x  "
              f"error vs 1 rank {row['max_relative_error_vs_single']:.1e}")
    document = {"benchmark": "context_parallel_scaling", "device": "cpu (2 cores)", "dtype": "float32",
                "tessera": args.tessera,
                "config": {**MEDIUM, "latent": [1, 16, args.frames, args.size, args.size]}, "results": results}
    pathlib.Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
