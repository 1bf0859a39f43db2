#!/usr/bin/env python3
"""Plots `tessera bench cache --json` results: speedup against quality (PSNR of the final latent against the
uncached run), one colour per method.

    ~/.cache/tessera/venv/bin/python benchmarks/plot_cache_study.py benchmarks/results/cache_study_cpu.json
writes the PNG beside the JSON (same name, .png).
"""
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _short(settings: str) -> str:
    """The settings as a short label: the keys every TeaCache run of the sweep shares are left out."""
    for shared in ("coefficients=none,", "warmup=1,"):
        settings = settings.replace(shared, "")
    return settings.replace("indicator=modulated_input", "modulated") or "defaults"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = pathlib.Path(sys.argv[1])
    document = json.loads(path.read_text())
    figure, axes = plt.subplots(figsize=(11, 6.5))
    colours = {"fbc": "tab:blue", "teacache": "tab:orange", "taylorseer": "tab:green", "pab": "tab:red", "fastercache": "tab:purple"}
    for row in document["results"]:
        if row["cache"] == "none" or row["psnr_db"] is None:
            continue
        method, _, settings = row["cache"].partition(":")
        settings = _short(settings)
        axes.scatter(row["speedup"], row["psnr_db"], color=colours.get(method, "tab:gray"),
                     label=method if method not in axes.get_legend_handles_labels()[1] else None)
        skipped = row["skipped_share"] + row["forecast_share"]
        judged = f", judge {row['judge_rate']:.0%}" if "judge_rate" in row else ""
        axes.annotate(f"{settings} ({skipped:.0%} not computed{judged})", (row["speedup"], row["psnr_db"]),
                      fontsize=7, xytext=(4, 3), textcoords="offset points")
    axes.set_xlabel("speedup over the uncached loop (wall time)")
    if document.get("benchmark") == "cache_study_trained_model":
        axes.set_ylabel("PSNR of the frames vs uncached (dB)")
        axes.set_title(f"tessera step caches on the trained embedded model: {document['prompts']} prompts, "
                       f"{document['steps']} steps")
    else:
        axes.set_ylabel("PSNR of the final latent vs uncached (dB)")
        axes.set_title(f"tessera step caches: {document['steps']} steps, random "
                       f"{document['model']['num_layers']}-layer Wan")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    figure.tight_layout()
    output = path.with_suffix(".png")
    figure.savefig(output, dpi=120)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
