#!/usr/bin/env python3
"""`tessera bench cache --model ...` with each setting's CPU time beside its wall time.

    python3 benchmarks/cache_study_cpu_time.py --steps 50 --caches 'seacache:threshold=0.5,max_cached=3;none' \\
        --json benchmarks/results/FILE.json [--tessera build/bin/tessera] [--model embedded]

On a machine shared with other jobs the study's wall times swing with their load (the same uncached run took 71.6
and 60.1 s in one study); the CPU time of a one-thread study hardly does (35.4 and 35.0 s), so its ratio is the
steadier speedup. The study runs with --threads 1 and --log-level debug: the pipeline logs one "encoded ...
prompt(s)" line as each generation starts (a warm-up, then the prompt set once per run: "none" first, then each
of --caches in order), and at each such line this script reads the process's utime + stime from /proc (Linux).
A run's CPU seconds are the difference between its first prompt's line and the next run's (the last run ends at
the process's exit, from wait4), so they include its judging and PSNR, which are small. To each result of the
study's JSON it adds cpu_seconds and cpu_speedup (the first uncached run's CPU seconds over the setting's), and
at the top the load averages before and after. A "none" in --caches times the uncached run again, a control.
"""
import argparse
import json
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After "pid (comm)" the state is field 3, so utime and stime (fields 14, 15) are at indices 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tessera", default=str(ROOT / "build" / "bin" / "tessera"))
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--steps", default="20")
    parser.add_argument("--caches", required=True, help="';'-separated --cache specs, as tessera bench cache takes")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    runs = ["none", *[spec for spec in args.caches.split(";") if spec]]
    command = [args.tessera, "bench", "cache", "--model", args.model, "--threads", "1", "--steps", args.steps,
               "--caches", args.caches, "--json", args.json, "--log-level", "debug"]
    load_before = [round(value, 2) for value in os.getloadavg()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    marks, table = [], []
    for line in process.stdout:
        if "encoded" in line and "prompt(s)" in line:
            marks.append(cpu_seconds(process.pid))
        elif not line.startswith("["):
            table.append(line.rstrip())
        elif "[debug]" not in line:
            print(line.rstrip(), flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tessera bench cache failed: {' '.join(command)}")
    marks.append(usage.ru_utime + usage.ru_stime)
    prompts, remainder = divmod(len(marks) - 2, len(runs))  # the warm-up's mark and the exit's
    if remainder or prompts == 0:
        raise SystemExit(f"expected one 'encoded' line per generation: {len(marks) - 2} for {len(runs)} runs")
    bounds = [marks[1 + i * prompts] for i in range(len(runs))] + [marks[-1]]
    document = json.loads(pathlib.Path(args.json).read_text())
    results = document["results"]
    for i, result in enumerate(results):
        result["cpu_seconds"] = bounds[i + 1] - bounds[i]
        result["cpu_speedup"] = results[0]["cpu_seconds"] / result["cpu_seconds"]
    document["command"] = " ".join(["python3", "benchmarks/cache_study_cpu_time.py", "--steps", args.steps,
                                    "--caches", repr(args.caches), "--json", args.json])
    document["cpu_time"] = ("per run, utime + stime of the one-thread study process from its first prompt to the "
                            "next run's (benchmarks/cache_study_cpu_time.py); cpu_speedup: the first uncached "
                            "run's over the setting's")
    document["load_average_1_5_15_min"] = {"before": load_before,
                                           "after": [round(value, 2) for value in os.getloadavg()]}
    pathlib.Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    print("\n".join(table))
    for result in results:
        psnr = result["psnr_db"]
        print(f"{result['cache'][:72]:72s} wall {result['seconds']:7.2f} s ({result['speedup']:.2f}x)  cpu "
              f"{result['cpu_seconds']:7.2f} s ({result['cpu_speedup']:.2f}x)  not computed "
              f"{1 - result['computed_share']:.2f}  PSNR {f'{psnr:.2f}' if psnr is not None else '-':>6s}  judge "
              f"{result['judge_rate']:.2f}")
    print(f"load average before {load_before}, after {document['load_average_1_5_15_min']['after']}")


if __name__ == "__main__":
    main()
