#!/usr/bin/env python3
"""Summary of a scripts/gpu_check.sh run, as JSON on stdout: versions, the machine, phase timings, and
pass/fail/skip with the time of every GPU test (from ctest's JUnit XML)."""
import argparse
import json
import pathlib
import subprocess
import xml.etree.ElementTree as ElementTree


def versions():
    found = {}
    try:
        import torch
        found["torch"] = torch.__version__
        found["cuda"] = torch.version.cuda
        found["nccl"] = ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else None
        found["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as error:  # the summary must still be written
        found["torch_error"] = str(error)
    try:
        found["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                         capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        found["driver"] = None
    return found


def tests(junit):
    if not junit.exists():
        return []
    results = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        status = case.get("status") or ("fail" if case.find("failure") is not None else "run")
        if case.find("skipped") is not None:
            status = "skipped"
        elif case.find("failure") is not None:
            status = "failed"
        elif status == "run":
            status = "passed"
        results.append({"name": case.get("name"), "status": status, "seconds": float(case.get("time", 0))})
    return results


def gtest_cases(directory):
    """Every gtest case over all processes that wrote a report: failed if it failed on any rank, skipped if
    skipped on all."""
    cases = {}
    for report in sorted(directory.glob("*.json")) if directory.exists() else []:
        try:
            document = json.loads(report.read_text())
        except ValueError:
            continue
        for suite in document.get("testsuites", []):
            for case in suite.get("testsuite", []):
                name = f"{suite['name']}.{case['name']}"
                entry = cases.setdefault(name, {"name": name, "runs": 0, "failed": 0, "skipped": 0, "seconds": 0.0})
                entry["runs"] += 1
                entry["failed"] += 1 if case.get("failures") else 0
                entry["skipped"] += 1 if case.get("result") == "SKIPPED" else 0
                entry["seconds"] = max(entry["seconds"], float(str(case.get("time", "0s")).rstrip("s") or 0))
    for entry in cases.values():
        entry["status"] = ("failed" if entry["failed"] else "skipped" if entry["skipped"] == entry["runs"]
                           else "passed")
    return sorted(cases.values(), key=lambda entry: entry["name"])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--build-status", type=int, required=True)
    parser.add_argument("--ctest-status", type=int, required=True)
    args = parser.parse_args()
    phases = {}
    phases_file = args.out / "phases.txt"
    if phases_file.exists():
        phases = json.loads("{" + phases_file.read_text().strip().rstrip(",") + "}")
    results = tests(args.out / "ctest_gpu.xml")
    counts = {status: sum(1 for r in results if r["status"] == status) for status in ("passed", "failed", "skipped")}
    cases = gtest_cases(args.out / "gtest")
    case_counts = {status: sum(1 for c in cases if c["status"] == status) for status in ("passed", "failed", "skipped")}
    summary = {"ok": args.build_status == 0 and args.ctest_status == 0 and counts["failed"] == 0,
               "build_status": args.build_status, "ctest_status": args.ctest_status, "counts": counts,
               "gtest_case_counts": case_counts, "phase_seconds": phases, "versions": versions(), "tests": results,
               "gtest_cases": cases}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
