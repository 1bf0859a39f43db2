#!/usr/bin/env python3
"""Where one rank's forward time goes, op by op: tessera (`tessera forward --profile-ops`) against diffusers'
WanTransformer3DModel (torch.profiler), the same weights, inputs and threads, fp32 on the CPU.

    ~/.cache/tessera/venv/bin/python benchmarks/profile_vs_diffusers.py [--threads 1] [--repeat 3] [--tokens 1024]

Both count the top-level ATen ops, the ones the model's own code calls (an op's internal calls count toward it):
diffusers' events without a parent op, tessera's through a RecordFunction callback (measure/op_profile.h).
tessera's fused CPU kernels (kernels/) are not ATen ops; their time is in "not in an ATen op" (forward time minus
the ops' sum), as is diffusers' Python. Model: Wan2.1-1.3B widths with 2 layers (MEDIUM of
wan_forward_vs_diffusers.py); tokens: 1024 (latent 4x32x32) or 4096 (4x64x64). Prints a table sorted by the
difference; --out writes the JSON (default benchmarks/results/profile_vs_diffusers_cpu.json).
"""
import argparse
import collections
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from wan_forward_vs_diffusers import MEDIUM, ROOT  # noqa: E402

LATENTS = {1024: (1, 16, 4, 32, 32), 4096: (1, 16, 4, 64, 64)}


def profile_diffusers(model_dir, inputs, repeat):
    model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(model_dir)).eval()
    model.load_state_dict(load_file(str(model_dir / "diffusion_pytorch_model.safetensors")))
    times = []
    with torch.inference_mode():
        model(**inputs, return_dict=False)  # warm-up
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            for _ in range(repeat):
                start = time.perf_counter()
                model(**inputs, return_dict=False)
                times.append(time.perf_counter() - start)
    ops = collections.defaultdict(lambda: {"calls": 0.0, "seconds": 0.0})
    for event in profiler.events():
        if event.cpu_parent is None and event.name.startswith("aten::"):
            ops[event.name]["calls"] += 1 / repeat
            ops[event.name]["seconds"] += event.cpu_time_total * 1e-6 / repeat
    return statistics.median(times), dict(ops)


def profile_tessera(tessera, model_dir, inputs_path, threads, repeat, workdir):
    profile = workdir / "ops.json"
    # forward --profile-ops leaves out its first two forwards (the second packs the weights: kernels/packed_linear.h)
    subprocess.run([str(tessera), "forward", "--model", str(model_dir), "--inputs", str(inputs_path), "--output",
                    str(workdir / "out.safetensors"), "--threads", str(threads), "--repeat", str(repeat + 2),
                    "--profile-ops", str(profile), "--log-level", "warn"], check=True)
    document = json.loads(profile.read_text())
    return document["forward_seconds"], document["ops"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tokens", type=int, choices=sorted(LATENTS), default=1024)
    parser.add_argument("--tessera", default=str(ROOT / "build" / "bin" / "tessera"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "profile_vs_diffusers_cpu.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        model_dir = workdir / "medium"
        torch.manual_seed(0)
        WanTransformer3DModel(**MEDIUM).save_pretrained(model_dir)
        inputs = {"hidden_states": torch.randn(*LATENTS[args.tokens]), "timestep": torch.tensor([700.0]),
                  "encoder_hidden_states": torch.randn(1, 512, 4096)}
        save_file(inputs, str(model_dir / "inputs.safetensors"))
        diffusers_s, diffusers_ops = profile_diffusers(model_dir, inputs, args.repeat)
        tessera_s, tessera_ops = profile_tessera(args.tessera, model_dir, model_dir / "inputs.safetensors",
                                                 args.threads, args.repeat, workdir)
    rows = []
    for name in sorted(set(diffusers_ops) | set(tessera_ops)):
        d = diffusers_ops.get(name, {"calls": 0, "seconds": 0.0})
        t = tessera_ops.get(name, {"calls": 0, "seconds": 0.0})
        rows.append({"op": name, "diffusers_calls": d["calls"], "diffusers_s": d["seconds"],
                     "tessera_calls": t["calls"], "tessera_s": t["seconds"]})
    rest = {"op": "not in an ATen op", "diffusers_calls": 0, "tessera_calls": 0,
            "diffusers_s": diffusers_s - sum(r["diffusers_s"] for r in rows),
            "tessera_s": tessera_s - sum(r["tessera_s"] for r in rows)}
    rows.append(rest)
    rows.sort(key=lambda r: -abs(r["tessera_s"] - r["diffusers_s"]))
    print(f"forward, {args.tokens} tokens, {args.threads} thread(s): diffusers {diffusers_s * 1e3:.1f} ms, "
          f"tessera {tessera_s * 1e3:.1f} ms ({diffusers_s / tessera_s:.2f}x)")
    print("| op | diffusers calls | diffusers ms | tessera calls | tessera ms | tessera - diffusers ms |")
    print("|---|---|---|---|---|---|")
    for r in rows[:25]:
        print(f"| {r['op']} | {r['diffusers_calls']:.0f} | {r['diffusers_s'] * 1e3:.1f} | {r['tessera_calls']:.0f} | "
              f"{r['tessera_s'] * 1e3:.1f} | {(r['tessera_s'] - r['diffusers_s']) * 1e3:+.1f} |")
    document = {"benchmark": "profile_vs_diffusers", "command": " ".join(sys.argv), "tokens": args.tokens,
                "threads": args.threads, "repeat": args.repeat, "torch": torch.__version__,
                "diffusers_forward_s": diffusers_s, "tessera_forward_s": tessera_s, "ops": rows}
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
