#!/usr/bin/env python3
"""summary.json of a scripts/gpu_check.sh command (schema: docs/gpu_check.md), built from its work folder:
check.json (the command, mode, deadline), phases.jsonl (one line per phase start and end), machine.json
(versions), ctest's JUnit XML and gtest's JSON, the comparisons' output lines and the benchmarks' JSON.

  gpu_summary.py write --work DIR --summary FILE [--final]   # prints the overall status
  gpu_summary.py --validate FILE [--expect PHASE=STATUS ...] [--expect-overall STATUS]
  gpu_summary.py --table FILE                                 # the phases and figures, as Markdown
  gpu_summary.py --brief FILE                                 # one line per phase

Python's standard library only: it runs on the GPU machine and in CI without a virtual environment."""
import argparse
import json
import pathlib
import re
import sys
import time
import xml.etree.ElementTree as ElementTree

SCHEMA = "tessera-gpu-check/1"
PHASE_STATUSES = ("passed", "failed", "skipped", "timed_out")
OVERALL_STATUSES = ("passed", "failed", "timed_out", "incomplete")
COUNT_KEYS = ("passed", "failed", "skipped")


def read_json(path, default=None):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return default


def phases(work):
    """The phases in the order they started, each as its last record (a start writes "running")."""
    by_name = {}
    path = work / "phases.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if not (work / record.get("log", "")).exists():
            record["log"] = None
        by_name[record["name"]] = {**by_name.get(record["name"], {}), **record}
    return list(by_name.values())


def overall_status(phase_list, final):
    if not final or any(phase["status"] == "running" for phase in phase_list):
        return "incomplete"
    if any(phase["status"] == "failed" for phase in phase_list):
        return "failed"
    if any(phase["status"] == "timed_out" or (phase["status"] == "skipped" and
                                               phase.get("reason", "").startswith("deadline"))
           for phase in phase_list):
        return "timed_out"
    return "passed"


def counts(cases):
    return {key: sum(1 for case in cases if case["status"] == key) for key in COUNT_KEYS}


def ctest_cases(directory):
    """Every ctest test from the JUnit files (ctest --output-junit)."""
    cases = []
    for junit in sorted(directory.glob("*.xml")) if directory.exists() else []:
        try:
            root = ElementTree.parse(junit).getroot()
        except ElementTree.ParseError:
            continue
        for case in root.iter("testcase"):
            if case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
                status = "skipped"
            elif case.find("failure") is not None or case.find("error") is not None or case.get("status") == "fail":
                status = "failed"
            else:
                status = "passed"
            cases.append({"name": case.get("name"), "status": status, "seconds": float(case.get("time") or 0)})
    return cases


def gtest_cases(directory):
    """Every gtest case over all the processes that wrote a report (each rank of each run): failed if it failed
    on any, skipped if skipped on all."""
    cases = {}
    for report in sorted(directory.glob("*.json")) if directory.exists() else []:
        document = read_json(report, {})
        for suite in document.get("testsuites", []):
            for case in suite.get("testsuite", []):
                name = f"{suite['name']}.{case['name']}"
                entry = cases.setdefault(name, {"name": name, "runs": 0, "failed_runs": 0, "skipped_runs": 0,
                                                "seconds": 0.0})
                entry["runs"] += 1
                entry["failed_runs"] += 1 if case.get("failures") else 0
                entry["skipped_runs"] += 1 if case.get("result") == "SKIPPED" else 0
                entry["seconds"] = max(entry["seconds"], float(str(case.get("time", "0s")).rstrip("s") or 0))
    for entry in cases.values():
        entry["status"] = ("failed" if entry["failed_runs"] else
                           "skipped" if entry["skipped_runs"] == entry["runs"] else "passed")
    return sorted(cases.values(), key=lambda entry: entry["name"])


FRAMES = re.compile(r"case (?P<case>\S+): \S+: (?P<frames>\d+) frame\(s\), largest difference (?P<largest>\d+)/255, "
                    r"(?P<differing>\d+) of (?P<values>\d+) values differ \(allowed (?P<allowed>\d+)/255\): (?P<verdict>\w+)")
TENSOR = re.compile(r"case (?P<case>\S+): \S+: max abs error (?P<error>\S+), max abs expected (?P<scale>\S+), "
                    r"relative (?P<relative>\S+) \(tolerance (?P<tolerance>\S+)\): (?P<verdict>\w+)")


def comparisons(directory):
    """The lines of tessera_compare_frames / tessera_compare_safetensors, one file per phase."""
    found = []
    for path in sorted(directory.glob("*.txt")) if directory.exists() else []:
        for line in path.read_text().splitlines():
            if match := FRAMES.search(line):
                found.append({"phase": path.stem, "case": match["case"], "kind": "frames",
                              "largest_difference_255": int(match["largest"]), "allowed_255": int(match["allowed"]),
                              "values_differing": int(match["differing"]), "values": int(match["values"]),
                              "match": match["verdict"] == "match"})
            elif match := TENSOR.search(line):
                found.append({"phase": path.stem, "case": match["case"], "kind": "tensor",
                              "max_abs_error": float(match["error"]), "relative_error": float(match["relative"]),
                              "tolerance": float(match["tolerance"]), "match": match["verdict"] == "match"})
            elif line.startswith("case "):
                found.append({"phase": path.stem, "case": line.split(":")[0][5:], "kind": "error",
                              "message": line, "match": False})
    return found


def bench_figures(directory):
    """The benchmarks' JSON, reduced to figures: per communication operation its largest size; per scaling
    point its times."""
    comm, scaling = [], []
    for path in sorted(directory.glob("*.json")) if directory.exists() else []:
        document = read_json(path, {})
        if document.get("benchmark") == "communication":
            largest = {}
            for point in document.get("results", []):
                if point["bytes"] >= largest.get(point["operation"], {"bytes": -1})["bytes"]:
                    largest[point["operation"]] = point
            for operation, point in sorted(largest.items()):
                comm.append({"file": path.name, "backend": document.get("backend"), "device": document.get("device"),
                             "ranks": document.get("ranks"), "operation": operation, "bytes": point["bytes"],
                             "time_us": point["time_us"], "algbw_gbps": point["algbw_gbps"],
                             "busbw_gbps": point["busbw_gbps"]})
        elif "results" in document:  # tessera bench scaling
            for row in document["results"]:
                scaling.append({"file": path.name, "model": (document.get("model") or {}).get("name"),
                                "dtype": document.get("dtype"), "device": document.get("device"),
                                "strategy": row.get("strategy"), "ranks": row.get("ranks"),
                                "latent": row.get("latent"), "tokens": row.get("tokens"),
                                "forward_s": row.get("forward_s"), "step_s": row.get("step_s")})
    return {"comm": comm, "scaling": scaling}


def build_summary(work, final):
    check = read_json(work / "check.json", {})
    phase_list = phases(work)
    ctest = ctest_cases(work / "ctest")
    gtest = gtest_cases(work / "gtest")
    started = check.get("started", int(time.time()))
    now = int(time.time())
    deadline = check.get("deadline_s")
    compared = comparisons(work / "compare")
    status = overall_status(phase_list, final)
    return {
        "schema": SCHEMA,
        "command": check.get("command"),
        "mode": check.get("mode"),
        "status": status,
        "ok": status == "passed",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "final": final,
        "seconds": now - started,
        "deadline": {"seconds": deadline, "min_phase_s": check.get("min_phase_s"),
                     "left_s": None if deadline is None else started + deadline - now,
                     "reached": any(phase["status"] == "timed_out" or
                                    str(phase.get("reason", "")).startswith(("deadline", "killed at the global"))
                                    for phase in phase_list)},
        "phases": phase_list,
        "tests": {"ctest": {"counts": counts(ctest), "cases": ctest},
                  "gtest": {"counts": counts(gtest), "cases": gtest}},
        "measurements": {"comparisons": compared, **bench_figures(work / "bench"),
                         "bf16_largest_difference_255": max(
                             (c["largest_difference_255"] for c in compared
                              if c["kind"] == "frames" and c["phase"].endswith("bf16")), default=None)},
        "versions": read_json(work / "machine.json", {}),
        "bundle": read_json(work / "bundle_manifest.json", None),
        "out": {"folder": check.get("out"), "max_files": check.get("max_out_files"),
                "files": ["summary.json", "logs.tar.gz", "console.log"]},
    }


def validate(summary, expect, expect_overall):
    """The schema's rules, and what the caller expects; returns the list of problems."""
    problems = []

    def require(condition, message):
        if not condition:
            problems.append(message)

    require(summary.get("schema") == SCHEMA, f"schema is {summary.get('schema')!r}, not {SCHEMA!r}")
    for key, kind in (("command", str), ("mode", str), ("status", str), ("ok", bool), ("final", bool),
                      ("seconds", (int, float)), ("deadline", dict), ("phases", list), ("tests", dict),
                      ("measurements", dict), ("versions", dict)):
        require(isinstance(summary.get(key), kind), f"{key}: missing or not {getattr(kind, '__name__', kind)}")
    if problems:
        return problems
    require(summary["status"] in OVERALL_STATUSES, f"status {summary['status']!r} not in {OVERALL_STATUSES}")
    require(summary["ok"] == (summary["status"] == "passed"), "ok disagrees with status")
    require(isinstance(summary["deadline"].get("seconds"), int), "deadline.seconds: missing")
    names = [phase.get("name") for phase in summary["phases"]]
    require(len(names) == len(set(names)), f"phase names repeat: {names}")
    for phase in summary["phases"]:
        name = phase.get("name")
        allowed = PHASE_STATUSES + (("running",) if summary["status"] == "incomplete" else ())
        require(phase.get("status") in allowed, f"phase {name}: status {phase.get('status')!r} not in {allowed}")
        require(isinstance(phase.get("seconds"), (int, float)) and phase["seconds"] >= 0, f"phase {name}: seconds")
        if phase.get("status") in ("skipped", "timed_out", "failed"):
            require(bool(phase.get("reason")), f"phase {name}: {phase.get('status')} without a reason")
    statuses = [phase.get("status") for phase in summary["phases"]]
    if summary["status"] != "incomplete":
        require(summary["final"], "a status other than incomplete needs final: true")
        require(summary["status"] == overall_status(summary["phases"], True),
                f"status {summary['status']} disagrees with the phases ({statuses})")
    for tool in ("ctest", "gtest"):
        block = summary["tests"].get(tool, {})
        require(all(isinstance(block.get("counts", {}).get(key), int) for key in COUNT_KEYS),
                f"tests.{tool}.counts: needs integer {COUNT_KEYS}")
        require(isinstance(block.get("cases"), list), f"tests.{tool}.cases: missing")
        for case in block.get("cases", []):
            require(case.get("status") in COUNT_KEYS, f"tests.{tool}: case {case.get('name')} status {case.get('status')}")
    for key in ("comparisons", "comm", "scaling"):
        require(isinstance(summary["measurements"].get(key), list), f"measurements.{key}: missing")
    by_name = {phase.get("name"): phase for phase in summary["phases"]}
    for name, status in expect:
        require(name in by_name, f"expected phase {name}: not in the summary")
        if name in by_name:
            require(by_name[name].get("status") == status,
                    f"phase {name}: {by_name[name].get('status')}, expected {status}")
    if expect_overall:
        require(summary["status"] == expect_overall, f"status {summary['status']}, expected {expect_overall}")
    return problems


def table(summary):
    lines = [f"gpu_check {summary['command']} ({summary['mode']}): **{summary['status']}** in {summary['seconds']} s "
             f"(deadline {summary['deadline']['seconds']} s)", "", "| phase | status | seconds | note |",
             "|---|---|---|---|"]
    for phase in summary["phases"]:
        lines.append(f"| {phase['name']} | {phase['status']} | {phase['seconds']} | {phase.get('reason') or ''} |")
    for tool in ("ctest", "gtest"):
        block = summary["tests"][tool]
        if block["cases"]:
            c = block["counts"]
            lines.append(f"\n{tool}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped")
            lines.extend(f"- {case['name']}: {case['status']}" for case in block["cases"] if case["status"] == "failed")
    measured = summary["measurements"]
    for c in measured["comparisons"]:
        if c["kind"] == "frames":
            lines.append(f"- {c['phase']} {c['case']}: largest difference {c['largest_difference_255']}/255 "
                         f"(allowed {c['allowed_255']}): {'match' if c['match'] else 'MISMATCH'}")
        elif c["kind"] == "tensor":
            lines.append(f"- {c['phase']} {c['case']}: relative error {c['relative_error']:.3g}: "
                         f"{'match' if c['match'] else 'MISMATCH'}")
    for c in measured["comm"]:
        lines.append(f"- {c['backend']} {c['device']} np{c['ranks']} {c['operation']} {c['bytes']} B: "
                     f"busbw {c['busbw_gbps']:.2f} GB/s")
    for s in measured["scaling"]:
        lines.append(f"- scaling {s['model']} {s['dtype']} {s['strategy']} np{s['ranks']} latent {s['latent']} "
                     f"({s['tokens']} tokens): step {s['step_s']:.3f} s, forward {s['forward_s']:.3f} s")
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "write":
        parser = argparse.ArgumentParser(description="write summary.json")
        parser.add_argument("write")
        parser.add_argument("--work", type=pathlib.Path, required=True)
        parser.add_argument("--summary", required=True)
        parser.add_argument("--final", action="store_true")
        args = parser.parse_args()
        summary = build_summary(args.work, args.final)
        pathlib.Path(args.summary).write_text(json.dumps(summary, indent=1) + "\n")
        print(summary["status"])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--validate", metavar="FILE")
    parser.add_argument("--expect", action="append", default=[], metavar="PHASE=STATUS")
    parser.add_argument("--expect-overall", metavar="STATUS")
    parser.add_argument("--table", metavar="FILE")
    parser.add_argument("--brief", metavar="FILE")
    args = parser.parse_args()
    if args.validate:
        summary = read_json(args.validate)
        if summary is None:
            print(f"{args.validate}: missing or not JSON", file=sys.stderr)
            return 1
        expect = [tuple(item.split("=", 1)) for item in args.expect]
        problems = validate(summary, expect, args.expect_overall)
        for problem in problems:
            print(f"{args.validate}: {problem}", file=sys.stderr)
        if not problems:
            print(f"{args.validate}: valid ({summary['status']}; "
                  f"{', '.join(p['name'] + ' ' + p['status'] for p in summary['phases'])})")
        return 1 if problems else 0
    if args.table or args.brief:
        summary = read_json(args.table or args.brief)
        if summary is None:
            return 1
        if args.table:
            print(table(summary))
        else:
            print(f"== summary: {summary['status']} in {summary['seconds']} s: " +
                  ", ".join(f"{p['name']} {p['status']} {p['seconds']} s" for p in summary["phases"]))
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
