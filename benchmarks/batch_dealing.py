#!/usr/bin/env python3
"""Makespan of `tessera batch` dealt in rounds against dealt dynamically (issue 26).

20 jobs of mixed lengths on the embedded model (1 or 9 frames, 4 or 20 steps, five of each kind, in a fixed
shuffled order) on 2 data-parallel groups of one rank (mpirun -np 2, --dp 2, 1 thread each). Each repeat runs
both dealings, alternating which goes first, so a change in the machine's load touches both. For each run: the
makespan `tessera batch` logs (first job dealt to last result recorded), the ideal (the sum of the jobs' own
seconds from results.jsonl over the 2 groups: every group busy to the end, with no dealing cost), how many jobs
each group ran, each kind's mean seconds (jobs slow down when both groups compute on a shared machine), and the
1-minute load average after the run.

  python3 benchmarks/batch_dealing.py --build build --repeats 2 --json benchmarks/results/batch_dealing.json
"""
import argparse
import json
import os
import random
import re
import subprocess
import tempfile
from pathlib import Path

KINDS = [(1, 4), (1, 20), (9, 4), (9, 20)]  # (frames, steps)
PROMPTS = ["red circle moving right", "green square top right", "blue triangle bottom left",
           "yellow circle moving down", "cyan square center"]


def write_jobs(path: Path) -> None:
    jobs = [(frames, steps, i) for frames, steps in KINDS for i in range(5)]
    random.Random(26).shuffle(jobs)
    with path.open("w") as out:
        for n, (frames, steps, i) in enumerate(jobs):
            out.write(json.dumps({"id": f"job-{n:02d}-f{frames}-s{steps}", "prompt": PROMPTS[i], "frames": frames,
                                  "steps": steps, "seed": n}) + "\n")


def run(build: Path, jobs: Path, out_dir: Path, deal: str, groups: int) -> dict:
    command = [str(build / "bin" / "tessera-run"), "-np", str(groups), str(build / "bin" / "tessera"), "batch",
               "--jobs", str(jobs), "--out-dir", str(out_dir), "--dp", str(groups), "--threads", "1",
               "--deal", deal]
    log = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    makespan = float(re.search(r"batch done: .* in ([0-9.]+) s", log).group(1))
    results = [json.loads(line) for line in (out_dir / "results.jsonl").read_text().splitlines()]
    assert len(results) == 20 and all(r["status"] == "ok" for r in results), "every job must succeed once"
    job_seconds = sum(r["seconds"] for r in results)
    per_group = [sum(1 for r in results if r["group"] == g) for g in range(groups)]
    busy = [sum(r["seconds"] for r in results if r["group"] == g) for g in range(groups)]
    kinds = {}
    for r in results:
        kinds.setdefault(r["id"].split("-", 2)[2], []).append(r["seconds"])
    return {"deal": deal, "makespan_s": round(makespan, 3), "ideal_s": round(job_seconds / groups, 3),
            "job_seconds": round(job_seconds, 3), "jobs_per_group": per_group,
            "busy_s_per_group": [round(b, 3) for b in busy],
            "mean_s_per_kind": {kind: round(sum(v) / len(v), 3) for kind, v in sorted(kinds.items())},
            "jobs": [{"id": r["id"], "group": r["group"], "seconds": round(r["seconds"], 3)} for r in results],
            "command": " ".join(command)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=Path("build"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        jobs = Path(scratch) / "jobs.jsonl"
        write_jobs(jobs)
        for repeat in range(args.repeats):
            order = ["rounds", "dynamic"] if repeat % 2 == 0 else ["dynamic", "rounds"]
            for deal in order:
                result = run(args.build, jobs, Path(scratch) / f"{deal}-{repeat}", deal, 2)
                result["repeat"] = repeat
                result["load_average"] = os.getloadavg()[0]
                runs.append(result)
                print(f"repeat {repeat} {deal:8s} makespan {result['makespan_s']:7.2f} s  ideal "
                      f"{result['ideal_s']:7.2f} s  jobs per group {result['jobs_per_group']}  busy per group "
                      f"{result['busy_s_per_group']}  mean s per kind {result['mean_s_per_kind']}  load "
                      f"{result['load_average']:.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"kinds": KINDS, "cpus": os.cpu_count(), "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
