#!/usr/bin/env python3
"""Plots `tessera bench scaling --json` results: three PNGs beside the JSON (same name, suffixed):

    ~/.cache/tessera/venv/bin/python benchmarks/plot_scaling.py benchmarks/results/scaling_cpu_np2.json

  NAME_speedup.png  step speedup against ranks, one panel per sequence length, one line per strategy (each from
                    the 1-rank point), with the ideal (speedup = ranks);
  NAME_time.png     seconds per step against tokens, one line per strategy and rank count;
  NAME_memory.png   peak resident memory per rank (the largest rank's) against ranks, one column per sequence, and
                    below it the part the point added above what the rank held when it started (weights,
                    libraries, inputs).
"""
import json
import pathlib
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["none", "ulysses", "ring", "usp", "cfg"]
COLOURS = {"none": "black", "ulysses": "tab:blue", "ring": "tab:orange", "usp": "tab:green", "cfg": "tab:red"}
MIB = 1 << 20


def latent_label(point):
    frames, height, width = point["latent"]
    return f"{frames}x{height}x{width} ({point['tokens']} tokens)"


def by_sequence(points):
    groups = defaultdict(list)
    for point in points:
        groups[point["tokens"], tuple(point["latent"])].append(point)
    return [groups[key] for key in sorted(groups)]


def strategy_lines(points):
    """{strategy: [points by ranks]}, every strategy starting from the 1-rank point of its sequence."""
    one_rank = [p for p in points if p["ranks"] == 1]
    lines = defaultdict(list)
    for point in points:
        if point["strategy"] != "none":
            lines[point["strategy"]].append(point)
    for strategy in lines:
        lines[strategy] = sorted(one_rank + lines[strategy], key=lambda p: p["ranks"])
    return {s: lines[s] for s in ORDER if s in lines}


def title(document):
    model = document["model"]
    config = model.get("config", {})
    layers = config.get("num_layers", "?")
    return (f"tessera bench scaling: {model['name']} Wan ({layers} layers), {document['dtype']}, "
            f"{document['device']}, {document['threads_per_rank']} thread(s) per rank, {document['backend']}")


def plot_speedup(document, sequences, path):
    figure, axes = plt.subplots(1, len(sequences), figsize=(5 * len(sequences), 4.2), squeeze=False)
    for axis, points in zip(axes[0], sequences):
        most = max(p["ranks"] for p in points)
        axis.plot([1, most], [1, most], color="grey", linestyle="--", label="ideal")
        for strategy, line in strategy_lines(points).items():
            axis.plot([p["ranks"] for p in line], [p["speedup"] for p in line], marker="o",
                      color=COLOURS[strategy], label=strategy)
        axis.set_title(latent_label(points[0]))
        axis.set_xlabel("ranks")
        axis.set_ylabel("speedup of a denoising step vs 1 rank")
        axis.set_xticks(range(1, most + 1))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title(document), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_time(document, points, path):
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    series = defaultdict(list)
    for point in points:
        series[point["strategy"], point["ranks"]].append(point)
    for (strategy, ranks), line in sorted(series.items(), key=lambda item: (ORDER.index(item[0][0]), item[0][1])):
        line.sort(key=lambda p: p["tokens"])
        axis.plot([p["tokens"] for p in line], [p["step_s"] for p in line], marker="o", color=COLOURS[strategy],
                  linestyle="-" if ranks == 1 else ["--", "-.", ":"][min(ranks, 4) - 2],
                  label=f"{strategy}, {ranks} rank{'s' if ranks > 1 else ''}")
    axis.set_xlabel("tokens")
    axis.set_ylabel("seconds per denoising step (median)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title(document), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_memory(document, sequences, path):
    """Top row: the peak; bottom row: what the point added above the rank's resident size at its start (the peak
    is mostly weights and libraries, which every point shares)."""
    figure, axes = plt.subplots(2, len(sequences), figsize=(5 * len(sequences), 7), squeeze=False, sharex="col")
    for column, points in enumerate(sequences):
        top, bottom = axes[0][column], axes[1][column]
        for strategy, line in strategy_lines(points).items():
            ranks = [p["ranks"] for p in line]
            peak = [max(p["peak_rss_bytes_per_rank"]) / MIB for p in line]
            added = [max(a - b for a, b in zip(p["peak_rss_bytes_per_rank"], p["start_rss_bytes_per_rank"])) / MIB
                     for p in line]
            top.plot(ranks, peak, marker="o", color=COLOURS[strategy], label=strategy)
            bottom.plot(ranks, added, marker="o", color=COLOURS[strategy], label=strategy)
        top.set_title(latent_label(points[0]))
        top.set_ylabel("peak resident MiB per rank (largest rank)")
        bottom.set_ylabel("MiB the point added above its start")
        bottom.set_xlabel("ranks")
        bottom.set_xticks(range(1, max(p["ranks"] for p in points) + 1))
        for axis in (top, bottom):
            axis.set_ylim(bottom=0)  # differences drawn to scale, not magnified
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    figure.suptitle(title(document), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = pathlib.Path(sys.argv[1])
    document = json.loads(path.read_text())
    points = document["results"]
    if not points:
        print(f"{path}: no results to plot", file=sys.stderr)
        return 1
    sequences = by_sequence(points)
    outputs = {kind: path.with_name(f"{path.stem}_{kind}.png") for kind in ("speedup", "time", "memory")}
    plot_speedup(document, sequences, outputs["speedup"])
    plot_time(document, points, outputs["time"])
    plot_memory(document, sequences, outputs["memory"])
    for output in outputs.values():
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
