#!/usr/bin/env python3
"""Plots the loss curve `tessera train` writes (loss.json in the pipeline folder) as loss.png beside it.

    ~/.cache/tessera/venv/bin/python scripts/plot_loss.py models/tessera-shapes/loss.json
"""
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = pathlib.Path(sys.argv[1])
    curve = json.loads(path.read_text())
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot(curve["step"], curve["loss"], linewidth=1.2)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("flow-matching loss (mean over 25 steps)")
    minutes = curve["seconds"][-1] / 60
    axes.set_title(f"tessera-shapes: {curve['step'][-1]} steps in {minutes:.0f} min on 2 CPU cores, "
                   f"final loss {curve['loss'][-1]:.4f}")
    axes.grid(alpha=0.3, which="both")
    figure.tight_layout()
    output = path.with_suffix(".png")
    figure.savefig(output, dpi=110)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
