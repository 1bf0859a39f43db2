#!/usr/bin/env python3
"""Builds the parity fixtures under tests/fixtures/ with the pinned PyPI diffusers (venv Python only).

    ~/.cache/tessera/venv/bin/python scripts/make_fixtures.py [--only wan,schedulers]

Each part lives in scripts/fixtures/<part>.py and exposes make(out_dir). Fixtures are small and committed;
rerun this after changing a part, and commit what changed. The diffusers version is recorded beside them.
"""
import argparse
import importlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARTS = ["schedulers", "wan", "flux", "caches", "flux_caches", "denoise", "umt5", "wan_vae", "wan_pipeline",
         "flux_text", "autoencoder_kl", "flux_pipeline", "wan22_pipeline", "wan_i2v", "lora", "clip_vision",
         "image_input", "wan_i2v_pipeline", "wan22_vae", "wan22_ti2v", "text_kv_cache",
         "wan_pipeline_fp8", "flux_pipeline_fp8", "dbcache", "mag_sea_caches"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts: " + ", ".join(PARTS))
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures"), help="fixture root directory")
    args = parser.parse_args()
    import diffusers
    import torch

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "scripts"))
    for part in [p for p in args.only.split(",") if p]:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; choose from {PARTS}")
        module = importlib.import_module(f"fixtures.{part}")
        if not hasattr(module, "make"):
            print(f"[fixtures] {part}: not written yet, skipped")
            continue
        torch.manual_seed(0)
        module.make(out / part)
        print(f"[fixtures] {part}: written to {out / part}")
    (out / "versions.json").write_text(
        json.dumps({"diffusers": diffusers.__version__, "torch": torch.__version__.split("+")[0]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
