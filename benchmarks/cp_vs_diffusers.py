#!/usr/bin/env python3
"""Context parallelism, tessera against diffusers' own, side by side: the same Wan config, weights, inputs and
threads per rank (1), fp32 on the CPU, at 1 and 2 ranks, Ulysses and Ring, in one run.

    ~/.cache/tessera/venv/bin/python benchmarks/cp_vs_diffusers.py [--rounds 2 --repeat 2] [--cases medium]
        [--tokens 1024,4096] [--points single,ulysses,ring] [--busy 2] [--out FILE]

tessera: `launch/tessera-run -np N tessera forward ... [--ulysses N | --ring N]`.
diffusers: `torchrun --nproc-per-node N` (gloo) running this file with --worker, which calls
`transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=N | ring_degree=N, ...))`.
Per point: median seconds per forward over --rounds x --repeat runs (the rounds alternate the two; each diffusers
launch warms up once, each tessera launch twice: its second forward packs the weights for the row count the first
one noted, kernels/packed_linear.h, a cost paid once per generation), the ratio diffusers/tessera, the max relative error between the two outputs and of each against
its own 1-rank output. Where diffusers cannot run a point, its error message is recorded instead of a time.

Cases: "tiny" (the odd_tokens parity fixture: 45 tokens, uneven shards), "tiny_3_heads" (3 heads, which 2 ranks
do not divide), "medium" (Wan2.1-1.3B widths, 2 layers, as in wan_forward_vs_diffusers.py; 6x32x32 latent ->
1536 tokens, as in cp_scaling.py). Results: benchmarks/results/cp_vs_diffusers_cpu.json.

--tokens N[,N...]: the medium case at each of these token counts instead of --frames/--size: a latent of 4 frames
of S x S with S = 2 * sqrt(N / 4) (patch 1x2x2, so N = 4 * (S/2)^2): 1024 -> 4x32x32, 4096 -> 4x64x64. Rows are
named medium_<N>. Other shapes: --frames/--size (tokens = frames * (size/2)^2).
--points NAME[,NAME...]: only these points of each case (single, ulysses, ring, ulysses_anything, ...).
--busy N: N busy processes (each one thread spinning in Python: a load beside the benchmark) run from before the
first timed run to after the last one, through every tessera and diffusers run alike; they are stopped on every
exit (Ctrl-C and SIGTERM included) and exit by themselves if this script is killed. The JSON records "busy" and
"busy_load" (each spinner's CPU seconds and share of the wall time, so a load that did not compete shows).
"""
import argparse
import datetime
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from busy_load import BusyLoad, stop_on_sigterm  # noqa: E402
from wan_forward_vs_diffusers import MEDIUM, ROOT  # noqa: E402

# name -> (ranks, tessera flags or None when tessera has no such mode, diffusers ContextParallelConfig kwargs,
# diffusers attention backend). The 1-rank diffusers point runs the plain model (no enable_parallelism).
POINTS = {
    "single": (1, [], None, None),
    "ulysses": (2, ["--ulysses", "2"], dict(ulysses_degree=2), None),
    "ulysses_anything": (2, None, dict(ulysses_degree=2, ulysses_anything=True), None),
    "ring": (2, ["--ring", "2"], dict(ring_degree=2), None),
    # The only other CP-capable backend whose op exists in a CPU build of torch: it asks ATen's flash kernel for
    # the log-sum-exp that the ring merge needs.
    "ring_native_flash": (2, None, dict(ring_degree=2), "_native_flash"),
    "ring_anything": (2, None, dict(ring_degree=2, ring_anything=True), None),
}
# Which diffusers point is compared with which tessera point (tessera needs no "anything" switch).
TESSERA_EQUIVALENT = {"ulysses_anything": "ulysses", "ring_native_flash": "ring", "ring_anything": "ring"}
TINY_3_HEADS = dict(patch_size=(1, 2, 2), num_attention_heads=3, attention_head_dim=8, in_channels=4, out_channels=4,
                    text_dim=16, freq_dim=8, ffn_dim=32, num_layers=2, cross_attn_norm=True,
                    qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=32)


def short_error(error):
    lines = [line for line in f"{type(error).__name__}: {error}".splitlines() if line.strip()]
    return " | ".join(lines)[:600]


def load_diffusers(model_dir):
    from diffusers import WanTransformer3DModel
    # from_config + load_state_dict: from_pretrained would need accelerate for keep-in-fp32 modules.
    model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(model_dir)).eval()
    model.load_state_dict(load_file(str(pathlib.Path(model_dir) / "diffusion_pytorch_model.safetensors")))
    return model


def worker(spec):
    """One rank of a diffusers point, under torchrun. Rank 0 writes the output and the times, or the error."""
    import torch.distributed as dist
    from diffusers import ContextParallelConfig
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    report = pathlib.Path(spec["report"])
    result = {}
    try:
        # "cpu:gloo" is gloo; spelled so, diffusers' size exchange (ulysses/ring_anything) stays on the CPU instead
        # of asking for a CUDA device (with plain "gloo" it fails: "Found no NVIDIA driver on your system").
        dist.init_process_group("cpu:gloo", timeout=datetime.timedelta(seconds=180))
        model = load_diffusers(spec["model"])
        if spec["backend"]:
            model.set_attention_backend(spec["backend"])
        if spec["config"]:
            if torch.accelerator.device_count() == 0:
                # diffusers picks the rank's device as `rank % torch.accelerator.device_count()`, a division by
                # zero on a machine without an accelerator (ZeroDivisionError: integer modulo by zero); the mesh
                # and the config only need "cpu".
                result["workaround"] = "torch.accelerator.device_count patched to 1 (diffusers divides by it)"
                torch.accelerator.device_count = lambda: 1
            model.enable_parallelism(config=ContextParallelConfig(**spec["config"]))
        from diffusers.models.attention_dispatch import _AttentionBackendRegistry
        processor = model.blocks[0].attn1.processor
        result["attention_backend"] = str(getattr(processor, "_attention_backend", None)
                                          or _AttentionBackendRegistry.get_active_backend()[0].value)
        inputs = load_file(spec["inputs"])
        times = []
        with torch.inference_mode():
            for _ in range(spec["repeat"] + 1):  # the first is the warm-up
                dist.barrier()
                start = time.perf_counter()
                sample = model(**inputs, return_dict=False)[0]
                times.append(time.perf_counter() - start)
        result["seconds"] = times[1:]
        if rank == 0:
            save_file({"sample": sample.contiguous()}, spec["output"])
    except Exception as error:  # recorded in the results: this is what the benchmark measures for that point
        result["error"] = short_error(error)
    if rank == 0 or "error" in result:
        pathlib.Path(f"{report}.rank{rank}").write_text(json.dumps(result) + "\n")
    if "error" in result:
        os._exit(1)  # so torchrun stops the other rank rather than leaving it in a collective
    dist.destroy_process_group()


def run_diffusers(name, model_dir, inputs, workdir, repeat):
    ranks, _, config, backend = POINTS[name]
    output = workdir / f"diffusers_{name}.safetensors"
    report = workdir / f"diffusers_{name}.json"
    spec = dict(model=str(model_dir), inputs=str(inputs), output=str(output), report=str(report), repeat=repeat,
                config=config, backend=backend)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
               str(pathlib.Path(__file__).resolve()), "--worker", json.dumps(spec)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
        stderr_tail = completed.stderr[-2000:]
    except subprocess.TimeoutExpired as timeout:
        stderr_tail = f"timed out after {timeout.timeout} s"
    reports = sorted(workdir.glob(f"diffusers_{name}.json.rank*"))
    results = [json.loads(path.read_text()) for path in reports]
    for path in reports:
        path.unlink()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        return {"error": errors[0]}, None
    if not results or "seconds" not in results[0]:
        return {"error": f"no result from the workers; stderr: {stderr_tail}"}, None
    return results[0], load_file(str(output))["sample"]


# Forwards of each tessera launch left out of the timing: the first notes each Linear's row count, the second packs
# the weights for it (kernels/packed_linear.h); every later forward runs as a denoising loop's steps do.
TESSERA_WARMUP = 2


def run_tessera(name, model_dir, inputs, workdir, repeat, tessera, launcher):
    ranks, flags, _, _ = POINTS[name]
    output = workdir / f"tessera_{name}.safetensors"
    timing = workdir / f"tessera_{name}.json"
    # torchrun starts each diffusers worker in a session of its own (start_new_session=True), which on kernels with
    # autogroup scheduling makes it a scheduling group of its own; each tessera rank under mpirun takes a session of
    # its own too (launch/own_session.h), so neither shares a group with the --busy spinners.
    command = [str(launcher), "-np", str(ranks), str(tessera), "forward", "--model", str(model_dir), "--inputs",
               str(inputs), "--output", str(output), "--threads", "1", "--repeat", str(repeat + TESSERA_WARMUP),
               "--timing-json", str(timing), "--log-level", "warn", *flags]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        return {"error": short_error(RuntimeError(completed.stderr[-600:]))}, None
    return {"seconds": json.loads(timing.read_text())["seconds"][TESSERA_WARMUP:]}, load_file(str(output))["sample"]


def relative_error(sample, reference):
    if sample is None or reference is None:
        return None
    return ((sample - reference).abs().max() / reference.abs().max()).item()


def make_case(directory, config, latent, text_tokens):
    from diffusers import WanTransformer3DModel
    torch.manual_seed(0)
    WanTransformer3DModel(**config).save_pretrained(directory)
    save_file({"hidden_states": torch.randn(*latent), "timestep": torch.tensor([700.0]),
               "encoder_hidden_states": torch.randn(1, text_tokens, config["text_dim"])},
              str(directory / "inputs.safetensors"))
    return directory


def load_average():
    return [round(value, 2) for value in os.getloadavg()]


def medium_latent(tokens):
    """The medium latent (frames, height, width) of `tokens` tokens: 4 frames of S x S, patch 1x2x2."""
    side = 2 * round((tokens / 4) ** 0.5)
    if tokens <= 0 or 4 * (side // 2) ** 2 != tokens:
        raise SystemExit(f"--tokens {tokens}: not 4 * k^2 (4 frames of 2k x 2k, e.g. 1024 or 4096); give other "
                         f"shapes with --frames and --size (tokens = frames * (size/2)^2)")
    return 4, side, side


def run_point(row, name, model_dir, inputs, workdir, args, tessera, samples):
    """The point's alternating rounds: tessera then diffusers, so a change in the machine's load hits both alike."""
    flags = POINTS[name][1]
    for _ in range(args.rounds):
        if flags is not None and "error" not in row.get("tessera", {}):
            result, samples[("tessera", name)] = run_tessera(
                name, model_dir, inputs, workdir, args.repeat, tessera, args.launcher)
            merge_round(row, "tessera", result)
        if "error" not in row.get("diffusers", {}):
            result, samples[("diffusers", name)] = run_diffusers(name, model_dir, inputs, workdir, args.repeat)
            merge_round(row, "diffusers", result)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating tessera/diffusers rounds per point")
    parser.add_argument("--frames", type=int, default=6, help="medium latent frames")
    parser.add_argument("--size", type=int, default=32, help="medium latent height and width")
    parser.add_argument("--tokens", help="medium case at these token counts (e.g. 1024,4096: 4x32x32, 4x64x64) "
                                         "instead of --frames/--size")
    parser.add_argument("--cases", default="tiny,tiny_3_heads,medium")
    parser.add_argument("--points", help=f"only these points of each case, of {','.join(POINTS)}")
    parser.add_argument("--busy", type=int, default=0,
                        help="busy processes (one spinning thread each) kept running through every timed run")
    parser.add_argument("--tessera", default=str(ROOT / "build" / "bin" / "tessera"))
    parser.add_argument("--launcher", default=str(ROOT / "launch" / "tessera-run"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cp_vs_diffusers_cpu.json"))
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.busy < 0:
        parser.error(f"--busy takes a count >= 0, got {args.busy}")
    selected = args.points.split(",") if args.points else list(POINTS)
    unknown = [name for name in selected if name not in POINTS]
    if unknown:
        parser.error(f"--points: unknown {','.join(unknown)}; known: {','.join(POINTS)}")
    mediums = {"medium": (args.frames, args.size, args.size)}
    if args.tokens:
        mediums = {f"medium_{int(n)}": medium_latent(int(n)) for n in args.tokens.split(",")}
    import diffusers
    stop_on_sigterm()
    load_before = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        # A private copy of the binary (it links the library statically), so a rebuild relinking it mid-run
        # changes nothing.
        tessera = workdir / "tessera"
        shutil.copy2(args.tessera, tessera)
        everything = list(POINTS)
        cases = {
            "tiny": (lambda: ROOT / "tests" / "fixtures" / "wan" / "odd_tokens", everything),
            "tiny_3_heads": (lambda: make_case(workdir / "tiny_3_heads", TINY_3_HEADS, (1, 4, 3, 6, 8), 7),
                             everything),
        }
        for medium, latent in mediums.items():
            cases[medium] = (lambda medium=medium, latent=latent: make_case(workdir / medium, MEDIUM,
                                                                            (1, 16, *latent), 77),
                             ["single", "ulysses", "ring"])
        requested = []
        for case in args.cases.split(","):
            requested += list(mediums) if case == "medium" else [case]
        missing = [case for case in requested if case not in cases]
        if missing:
            parser.error(f"--cases: unknown {','.join(missing)}; known: tiny,tiny_3_heads,medium")
        # Every model and input is made before the load starts, so the load covers the timed runs and only them.
        prepared = [(case, cases[case][0](), [p for p in cases[case][1] if p in selected]) for case in requested]
        load = BusyLoad(args.busy)
        with load:
            load_started = load_average()
            for case, model_dir, points in prepared:
                inputs = model_dir / "inputs.safetensors"
                config = json.loads((model_dir / "config.json").read_text())
                latent = load_file(str(inputs))["hidden_states"].shape
                tokens = latent[2] * (latent[3] // 2) * (latent[4] // 2)
                samples = {}
                for name in points:
                    ranks = POINTS[name][0]
                    row = {"case": case, "point": name, "ranks": ranks, "threads_per_rank": 1, "tokens": tokens,
                           "heads": config["num_attention_heads"], "busy": args.busy}
                    run_point(row, name, model_dir, inputs, workdir, args, tessera, samples)
                    if args.busy and load.alive() != args.busy:
                        raise SystemExit(f"only {load.alive()} of the {args.busy} busy processes still run")
                    for side in ("tessera", "diffusers"):
                        if side in row and "seconds" in row[side]:
                            row[side]["median_s"] = statistics.median(row[side]["seconds"])
                            row[side]["max_relative_error_vs_own_single"] = relative_error(
                                samples[(side, name)], samples.get((side, "single")))
                    equivalent = TESSERA_EQUIVALENT.get(name, name)
                    tessera_median = rows_median(rows, row, case, equivalent)
                    row["tessera_point_compared"] = equivalent
                    if tessera_median and "median_s" in row.get("diffusers", {}):
                        row["ratio_diffusers_over_tessera"] = row["diffusers"]["median_s"] / tessera_median
                    row["max_relative_error_diffusers_vs_tessera"] = relative_error(
                        samples.get(("diffusers", name)), samples.get(("tessera", equivalent)))
                    rows.append(row)
                    print_row(row)
            load_during = load_average()
    document = {"benchmark": "cp_vs_diffusers", "device": "cpu (2 cores)", "dtype": "float32",
                "rounds": args.rounds, "repeat": args.repeat, "tessera_warmup_forwards": TESSERA_WARMUP,
                "torch": torch.__version__, "diffusers": diffusers.__version__,
                "command": " ".join([pathlib.Path(sys.executable).name, *sys.argv]), "tessera": args.tessera,
                "launcher": args.launcher, "diffusers_launch": "python -m torch.distributed.run --nproc-per-node N "
                "(torchrun), gloo backend, torch.set_num_threads(1) per rank",
                "medium_configs": {case: {**MEDIUM, "latent": [1, 16, *latent], "text_tokens": 77}
                                   for case, latent in mediums.items()},
                "tiny_3_heads_config": {**TINY_3_HEADS, "latent": [1, 4, 3, 6, 8], "text_tokens": 7},
                "busy": args.busy, "busy_load": load.summary(),
                "diffusers_workarounds": [
                    "torch.accelerator.device_count() patched to return 1 in the workers: on a CPU-only machine "
                    "enable_parallelism fails with 'ZeroDivisionError: integer modulo by zero' "
                    "(rank % torch.accelerator.device_count() in ModelMixin._resolve_parallel_config)",
                    "process group backend spelled 'cpu:gloo': with 'gloo' the *_anything modes fail with "
                    "'RuntimeError: Found no NVIDIA driver on your system' (gather_size_by_comm picks the "
                    "accelerator unless the backend string names cpu)"],
                "load_average_1_5_15_min": {"before": load_before, "busy_started": load_started,
                                            "end_of_timed_runs": load_during, "after": load_average()},
                "results": rows}
    # Each busy process adds about 1 to the load average; beyond the cores and that, other jobs shared the machine.
    loads = [value for values in document["load_average_1_5_15_min"].values() for value in values]
    if max(loads) > os.cpu_count() + args.busy:
        document["note"] = (f"the machine's {os.cpu_count()} cores were shared with other jobs (compiles) during the "
                            f"run: load average up to {max(loads)} (the benchmark's own {args.busy} busy processes "
                            f"add about {args.busy}), so absolute times are inflated and noisy")
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"load average before {load_before}, end of timed runs {load_during}, after "
          f"{document['load_average_1_5_15_min']['after']}; busy load {document['busy_load']}")
    print(f"wrote {args.out}")


def merge_round(row, side, result):
    """Adds one round's times to the row; an error replaces them (a point that fails once is not retried)."""
    if "error" in result or side not in row:
        row[side] = result
    else:
        row[side]["seconds"] += result["seconds"]


def rows_median(rows, row, case, point):
    for candidate in [*rows, row]:
        if candidate["case"] == case and candidate["point"] == point and "tessera" in candidate:
            return candidate["tessera"].get("median_s")
    return None


def print_row(row):
    def cell(side):
        result = row.get(side)
        if result is None:
            return "        -"
        return f"{result['median_s']:8.3f}s" if "median_s" in result else "   failed"
    ratio = row.get("ratio_diffusers_over_tessera")
    error = row["max_relative_error_diffusers_vs_tessera"]
    print(f"{row['case']:13s} {row['point']:18s} np {row['ranks']}  tessera {cell('tessera')}  diffusers "
          f"{cell('diffusers')}  ratio {f'{ratio:.2f}x' if ratio else '-':>6s}  "
          f"err {f'{error:.1e}' if error is not None else '-'}", flush=True)
    if "error" in row.get("diffusers", {}):
        print(f"    diffusers: {row['diffusers']['error'][:300]}", flush=True)
    if "error" in row.get("tessera", {}):
        print(f"    tessera: {row['tessera']['error'][:300]}", flush=True)


if __name__ == "__main__":
    main()
